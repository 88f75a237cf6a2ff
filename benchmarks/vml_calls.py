"""Which MKL vector-math (VML) kernels a Python command calls: a gdb script, not a module.

Why: MKL's VML kernels are the CPU code whose bits can differ between processors (some refine
``rsqrtps``/``rcpps`` estimates; README "Reproducible"). This sets a counting breakpoint on every
float and double ``mkl_vml_kernel_*`` function of ``libtorch_cpu.so`` (where MKL is linked in),
runs the command and prints each kernel it called with the count; no line means none.

    gdb -q -batch -x benchmarks/vml_calls.py --args .venv/bin/python benchmarks/audio_steps.py switch
"""

import collections
import subprocess

import gdb  # only inside gdb

counts: collections.Counter = collections.Counter()


class _Count(gdb.Breakpoint):
    def stop(self) -> bool:
        counts[self.location] += 1
        return False  # count and go on


gdb.execute("set pagination off")
gdb.execute("set confirm off")
gdb.execute("catch load libtorch_cpu")
gdb.execute("run")  # stops once libtorch_cpu.so is loaded
libs = gdb.execute("info sharedlibrary", to_string=True).splitlines()
lib = next(line.split()[-1] for line in libs if "libtorch_cpu.so" in line)
nm = subprocess.run(["nm", lib], capture_output=True, text=True, check=True).stdout
names = [f[2] for f in (x.split() for x in nm.splitlines()) if len(f) == 3 and f[1] == "T"]
names = [n for n in names if n.startswith(("mkl_vml_kernel_s", "mkl_vml_kernel_d"))]
print(f"vml_calls: {len(names)} VML kernels breakpointed in {lib}")
gdb.execute("delete")
for name in names:
    _Count(name, internal=True)
gdb.execute("continue")
for name, n in counts.most_common():
    print(f"vml_calls: {name} {n}")
print(f"vml_calls: {sum(counts.values())} calls in all")
