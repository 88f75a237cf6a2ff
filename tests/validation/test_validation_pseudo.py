"""The pseudo-GT suite: bad maps are named by row and frame; uninformative rows are skipped."""

import numpy as np

from avsal.data.datasets import MapStore
from avsal.validation.pseudo import validate_pseudo


def _store(tmp_path, maps, informative=None):
    refs = [("clipA", i) for i in range(len(maps))]
    extra = {} if informative is None else {"informative": np.asarray(informative)}
    return MapStore(np.asarray(maps, np.float16), refs, extra).save(tmp_path / "pseudo")


def test_good_maps_pass(tmp_path):
    rng = np.random.default_rng(0)
    folder = _store(tmp_path, rng.random((4, 6, 8)))
    res = validate_pseudo(folder, expected_size=(6, 8), name="p")
    assert res.success, res.describe()


def test_each_defect_is_reported_with_its_row(tmp_path):
    rng = np.random.default_rng(0)
    maps = rng.random((5, 6, 8)).astype(np.float32)
    maps[1] = 0.0  # empty
    maps[2] = 0.4  # constant
    maps[3, 0, 0] = np.nan
    maps[4, 0, 0] = 1.5  # out of range
    res = validate_pseudo(_store(tmp_path, maps), expected_size=(6, 8), name="p")
    text = "\n".join(res.describe())
    assert not res.success
    assert "empty (all-zero) map" in text and "clipA frame 1" in text
    assert "constant map" in text and "clipA frame 2" in text
    assert "NaN or Inf" in text and "clipA frame 3" in text
    assert "map value above 1" in text and "clipA frame 4" in text
    res = validate_pseudo(_store(tmp_path, rng.random((2, 6, 8))), expected_size=(7, 8), name="p")
    assert any("map size differs" in line for line in res.describe())


def test_uninformative_rows_are_skipped_but_counted(tmp_path):
    rng = np.random.default_rng(1)
    maps = rng.random((4, 6, 8)).astype(np.float32)
    maps[3] = 0.0
    folder = _store(tmp_path, maps, informative=[True, True, True, False])
    assert validate_pseudo(folder, expected_size=(6, 8), name="p", min_informative=0.5).success
    res = validate_pseudo(folder, expected_size=(6, 8), name="p", min_informative=0.9)
    assert not res.success and any("informative pseudo-GT" in line for line in res.describe())
