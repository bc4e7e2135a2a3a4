"""A run stopped by SIGINT part-way and resumed equals the uninterrupted run, record for record."""

import os
import signal
import tempfile
import threading
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import fastwalk as fw

folder = Path(tempfile.mkdtemp())
model = fw.SphereBrownian(20, radius=1.0, diffusion=0.02, dt=0.01, method="exact")
options = dict(walkers=1000, steps=4000, seed=3, observe_every=40, progress=False,
               commit_seconds=0.05)
with fw.simulate(model, out=folder / "whole.h5", **options) as whole:
    reference = whole.observable("mean_cos_theta")
    reference = (reference.time, reference.value)

# a Ctrl-C after 1 s; should the run end first, the signal finds a handler that ignores it
previous = signal.signal(signal.SIGINT, lambda *_: None)
timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
timer.start()
stopped = fw.simulate(model, out=folder / "stopped.h5", **options)
timer.cancel()
timer.join()
signal.signal(signal.SIGINT, previous)
at = stopped.committed_step
stopped_series = stopped.observable("mean_cos_theta")
stopped_series = (stopped_series.time, stopped_series.value)
stopped.close()
with fw.resume(folder / "stopped.h5") as resumed:
    series = resumed.observable("mean_cos_theta")
    identical = np.array_equal(series.value, reference[1])
print(f"stopped: {stopped.reason} at step {at}; resumed to {series.step[-1]}; "
      f"bit-identical to the uninterrupted run: {identical}")

figure, ax = plt.subplots(figsize=(5.5, 3.3))
ax.plot(*reference, lw=4, alpha=0.35, label="uninterrupted")
ax.plot(series.time, series.value, "C1", lw=1, label="stopped, then resumed")
ax.plot(*stopped_series, "kx", ms=4, label=f"committed before the stop (step {at})")
ax.set_xlabel("time")
ax.set_ylabel("⟨cos θ⟩ on S^20")
ax.legend(fontsize="small")
figure.tight_layout()
figure.savefig("resume.png", dpi=80)
