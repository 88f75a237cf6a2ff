"""The report's "Claims" section: each ordering the paper claims as a difference with its
interval and verdict (from ``reports/claims.json``, written by the claims stage)."""

from __future__ import annotations

from typing import Any

from avsal.report.render import Block, Bullets, Heading, Para, Table

__all__ = ["claims_blocks"]

MARK = {"holds": "holds", "fails": "**fails**", "undecided": "undecided"}


def _iv(d: dict[str, Any]) -> str:
    return f"{d['diff']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}]"


def _per_set(row: dict[str, Any]) -> str:
    parts = [
        f"{name} {d['verdict'][0]}" if d["verdict"] != "undecided" else f"{name} ?"
        for name, d in row.get("per_set", {}).items()
    ]
    return ", ".join(parts)


def _strata(row: dict[str, Any]) -> str:
    return "; ".join(
        f"{name} ({d['n_videos']} videos): {_iv(d)} {d['verdict']}"
        for name, d in row.get("strata", {}).items()
    )


def claims_blocks(claims: dict[str, Any] | None, figure: list[Block]) -> list[Block]:
    """Heading, how to read it, the headline, the table, the forest plot, the strata."""
    blocks: list[Block] = [Heading("Claims: differences with their intervals")]
    if not claims:
        return blocks + [
            Para("Not available: `reports/claims.json` not found (run `dvc repro claims`).", "note")
        ]
    level = round(100 * claims["level"])
    seeds = claims["seeds"]
    blocks.append(
        Para(
            f'Each claim "A > B" is the difference A − B on the same frames: the mean over a '
            f"video's frames, then the mean over the videos of a set, then the unweighted mean "
            f"over the sets. The interval is a {level}% paired bootstrap "
            f"({claims['resamples']} resamples) over {claims['intervals_over']}: videos are "
            f"resampled within their set"
            + (", seeds with replacement" if len(seeds) > 1 else "")
            + ". **holds**: the interval lies above 0; **fails**: below 0; **undecided**: it "
            "spans 0, or fewer than the minimum number of videos are behind it. Per set: h = "
            "holds, f = fails, ? = undecided. "
            f"Split: {claims['split']}; seeds: {', '.join(map(str, seeds))}"
            + (
                f" (replicate experiments: {', '.join(claims['replicates']['experiments'])})."
                if (claims.get("replicates") or {}).get("experiments")
                else "."
            )
        )
    )
    if len(seeds) == 1:
        blocks.append(
            Para(
                "One training seed: these intervals cover the choice of videos, not the "
                "training noise of another seed (`make replicates` adds seeds).",
                "note",
            )
        )
    h = claims["headline"]
    blocks.append(
        Para(
            f"**{h['holds']} hold, {h['fails']} fail, {h['undecided']} undecided** "
            f"(claim x metric, pooled over sets)."
        )
    )
    t = Table(
        ("Claim", "Where", "Metric", "A − B [interval]", "Videos", "Seeds", "Verdict", "Per set")
    )
    for r in claims["claims"]:
        if "pooled" not in r:
            t.add(r["text"], r["where"], r["metric"].upper(), r.get("missing", ""), "0", "0",
                  "undecided", "", kind="note")  # fmt: skip
            continue
        p = r["pooled"]
        t.add(
            r["text"],
            r["where"],
            r["metric"].upper(),
            _iv(p),
            str(p["n_videos"]),
            str(p["n_seeds"]),
            MARK[r["verdict"]],
            _per_set(r),
            kind="ours" if r["verdict"] == "holds" else "note",
        )
    blocks.append(t)
    blocks += figure
    strata = [
        f"{r['text']} ({r['metric'].upper()}): {_strata(r)}"
        for r in claims["claims"]
        if r.get("strata")
    ]
    if strata:
        blocks.append(
            Para(
                "Where the mechanism acts: Eq. 3 changes the fused map only on frames where the "
                "three nets disagree on the top-1 class, and the audio switch can only help on "
                "videos whose soundtrack is not the tagged category's sound; a mean over all "
                "frames dilutes both. Each such claim is decided again within its strata:"
            )
        )
        blocks.append(Bullets(tuple(strata)))
    reps = claims.get("replicates") or {}
    if reps.get("stale_seeds"):
        blocks.append(
            Para(
                f"Replicates of seeds {reps['stale_seeds']} in `{reps['file']}` were left out: "
                "they ran with other params (run `make replicates` again).",
                "note",
            )
        )
    return blocks
