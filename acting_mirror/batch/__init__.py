"""Many takes of a scene: analysed in parallel, compared in one index.

    acting-mirror batch takes/ extra_take.mp4 --script scene.yaml --out results/

Each take runs through `acting_mirror.api.analyze` exactly as `acting-mirror --video TAKE
--script S --report R` would, and gets DIR/<take>/ with the same timeline.csv, summary.json,
report.html and charts (plus annotated.avi with --video-output). DIR/index.csv and
DIR/index.html compare the takes: scores, each cue's on-target share, or without a script
the emotion shares.

Engines: `local` (a spawn process pool, one take per process at a time, one inference and
one OpenCV thread per process) and `ray` (one Ray task per take, on a local Ray runtime or
a cluster started with `ray start`; the takes travel to the workers through Ray's object
store). Either way the driver alone writes DIR: a take's files land in
DIR/.partial-<take>/ and are renamed to DIR/<take>/ when complete, so a crash loses at most
the takes in progress, and a re-run skips the takes already done with the same settings.
One bad take (missing, corrupt, unreachable) is reported with its one-line error in the
index; the others go on.

Modules: takes (what the inputs name), worker (one take), engines (local pool, Ray),
store (DIR's folders), index (index.csv and index.html), run (the batch), cli (the command).
"""
