"""A process with thousands of mapped files (argv[1], default 3000): small
files in a temporary directory, each mapped and kept, then spin_with_maps
runs. Prints READY {"maps": N}; runs until killed (the files go with it)."""
import json
import mmap
import os
import sys
import tempfile

n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
folder = tempfile.mkdtemp(prefix="mixprof-maps-")
keep = []
for i in range(n):
    path = os.path.join(folder, f"data-{i}.bin")
    with open(path, "wb") as f:
        f.write(b"\0" * 4096)
    with open(path, "rb") as f:
        keep.append(mmap.mmap(f.fileno(), 4096, prot=mmap.PROT_READ))
    os.unlink(path)
os.rmdir(folder)


def spin_with_maps():
    x = 0
    while True:
        x = (x * 31 + 7) % 1000003


with open("/proc/self/maps") as maps:
    count = sum(1 for _ in maps)
print("READY " + json.dumps({"maps": count}), flush=True)
spin_with_maps()
