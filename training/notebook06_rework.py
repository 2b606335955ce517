"""Issue 24, work in progress: the new cells of solutions/06_lsds.ipynb (not yet applied).

Applied when the networks of training/ are shipped (the text's numbers are then read off
the executed notebook): ``python training/notebook06_rework.py`` rewrites the solution
notebook's cells from the markers below; then re-execute it (bench/bench_notebooks.py
--in-place 06_lsds) and regenerate the exercise (mbl-seg exercises).

Cells kept as they are: 1-13 (setup, the LSD channels, exercise A), 15-21 (pipeline, its
figure, exercise B, the student's training). Replaced: 0 (intro: the Zendo opener), 14 (the mask
text, which said the valid output is always kept: augmentations that bring in unknown
voxels, ShiftedSections and Elastic, drop 2-56 % of the output of a 44 x 92 x 92 sample),
and everything from 21 on.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "solutions" / "06_lsds.ipynb"

INTRO = """\
# 06 · Local shape descriptors: teaching a network what a neuron looks like

Remember Zendo (notebook 00): you could only learn the rule your examples made you explain.
In its last round two rules fitted every example, and nothing in them said which one the
master meant. A network is that kind of learner. An affinity network is asked one thing per
voxel: *is my neighbour in the same object?* Nothing in those labels makes it explain what
the object looks like, so where the membrane between two neurons is faint or missing it has
no reason to know better than the pixels in front of it.

**Local shape descriptors** (LSDs, Sheridan et al., *Nature Methods* 2023) are labels that
make a network explain local shape: for every voxel, where its object's centre of mass lies
in a window around it, how the object extends along each axis, how it is oriented, how much
of the window it fills. This notebook asks whether that helps, and answers with numbers
computed in front of you.

By the end of this notebook you will have

1. computed the **10 LSD channels** from labels and read them as images;
2. written the first of them, the **offset to the local centre of mass**, yourself;
3. written the **multi-task loss** of an affinities + LSDs network ("MTLSD") and trained one;
4. measured whether a network **has learnt its descriptors**, against a constant guess;
5. compared **affinities only**, **MTLSD** and **auto-context (ACRLSD)** at equal footing
   (each at the operating point chosen on validation data, then scored on test data), and
   counted **where** each one merges neurons;
6. seen the **domain shift** of the lecture's last slide, fly (8 nm) → zebrafish
   (36 × 12 × 12 nm), before and after fine-tuning on a few zebrafish sections.

Fast mode (CPU) trains a few dozen iterations to show the loop and then uses the networks
shipped in `mbl_seg/data/models/` (made by `scripts/train_course_models.py`, the same code;
each one's iterations and CPU hours are printed below); full mode (GPU) trains your network
long enough to compete with them."""

MASK = """\
## 2. Networks that predict LSDs

**Goal:** add LSDs to the training pipeline, and train one network with two heads.

`LSDs` is a target step like `Affinities`: it computes the descriptors of each augmented
sample, and a mask. A voxel's descriptors depend on a window of a few sigma around it, and
near the sample's edge the window is cut: the mask keeps only voxels whose window is known
two sigma deep (160 nm here). The valid network's output lies 20 voxels = 160 nm inside its
input, so it would always be kept — but two augmentations bring in voxels nobody knows:
`ShiftedSections` slides a section sideways and leaves a strip, and `Elastic` near the
volume's faces reaches past the data. Their windows are not known, and the mask drops them
too (the fraction kept is printed below, for one sample).

The **multi-task** network ("MTLSD") is notebook 05's 3D U-Net with 13 output channels: 3
affinities and 10 LSDs. Its loss adds the affinity loss (class-balanced BCE) and the LSD loss
(mean squared error of the sigmoid, `lsd_loss`), the latter weighted by `LSD_WEIGHT` = 5
because an MSE of numbers in [0, 1] is about ten times smaller than a BCE. Only the
affinities are segmented; the LSDs are there to shape what the network learns."""


def markdown(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text.splitlines(True)}


def code(text: str, *, checked: bool = False) -> dict:
    if checked:
        text = "# NBVAL_CHECK_OUTPUT\n" + text
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": text.splitlines(True)}


NEW = [
    markdown("""\
## 3. Has the network learnt its descriptors?

**Goal:** tell a network that has learnt the LSDs from one that predicts their average.

A small mean squared error alone says little: most LSD channels vary little, so predicting
each channel's mean everywhere (the **constant guess**, from the training volume) already
scores a small one. Two numbers tell learning from that, measured away from the volume's
faces (where the truth's window is cut and the network sees mirrored context):

* the MSE **relative to the constant guess**: 1 is no better, 0.5 half its error;
* the **correlation** (Pearson r) of each predicted centre-of-mass offset with the truth's:
  the channels you wrote in exercise A, and the ones a constant cannot predict at all (r = 0).

The shipped networks are held to a bar: relative MSE at most 0.5 and every offset r at least
0.6 on the fly test volume. Yours, after the iterations of the cell above, is scored the same
way."""),
    code("""\
FLY = {"affinities": "05_affs3d_fly", "MTLSD": "06_mtlsd_fly", "ACRLSD": "06_acrlsd_fly"}
shipped = {name: load_pretrained(name) for name in
           ("06_lsd_fly", *FLY.values(), *(f"{n}_tuned_zebrafish" for n in FLY.values()))}
for name, (model, note) in shipped.items():
    # iterations and hours of every call of the training script that made it (the note's total)
    print(f"{name:<30} {note['iterations_total']:>5} iterations, "
          f"{note['hours_total']:.1f} CPU hours, trained on "
          f"{note.get('training_sections') or 'all'} sections of {note['domain']}/train")"""),
    code("""\
train_lsds = lsds(train_data.labels, sigma=SIGMA, voxel_size=train_data.voxel_size,
                  downsample=DOWNSAMPLE)
constant = channel_means(train_lsds)  # the constant guess: each channel's mean on fly/train
predicted = {name: predict_blocks(shipped[name].model, test.raw, device=cfg.device,
                                  progress=False) for name in ("06_lsd_fly", "06_mtlsd_fly")}
predicted["yours"] = predict_blocks(net, test.raw, device=cfg.device, progress=False)
quality = {name: lsd_quality(out[-10:], test_lsds, means=constant)
           for name, out in predicted.items()}
for name, q in quality.items():
    print(f"{name:<14} {q}")"""),
    code("""\
for name in ("06_lsd_fly", "06_mtlsd_fly"):
    checks.expect_less(quality[name].relative_mse, 0.5,
                       f"{name}: LSD error at most half the constant guess's")
    checks.expect_less(0.6, min(quality[name].offset_r),
                       f"{name}: every offset channel correlates with the truth at r >= 0.6")""",
         checked=True),
    code("""\
viz.show_panels(voxel_size=test.voxel_size, z=24, raw=test.raw,
                **viz.lsd_panels(test_lsds, "truth: "),
                **viz.lsd_panels(predicted["06_mtlsd_fly"][3:], "MTLSD: "), figsize=(18, 2.6));"""),
    markdown("""\
TODO(text from the printed numbers): what the shipped networks reach, what yours reaches in
fast mode (a few dozen iterations: close to the constant guess) and in full mode.

## 4. Affinities, MTLSD, auto-context: at equal footing

**Goal:** compare three ways of predicting affinities with the same pipeline, each at its
best operating point chosen on validation data, and scored on test data.

* **affinities**: notebook 05's network (3 channels);
* **MTLSD**: the multi-task network (its 3 affinity channels; the LSDs only shaped it);
* **ACRLSD** (auto-context): a second network reads the raw data *and* the LSDs the
  LSDs-only network predicts, and predicts affinities. The shape information goes in as an
  input instead of as a second task.

All three have the same architecture and the same training budget (iterations, patches,
learning rates; the table above). The pipeline is notebook 07's: fragments, then
agglomeration. Its edge scoring and threshold are settings, and a method can look better or
worse only because of them, so each method gets its own, the pair with the lowest VOI total
on `fly/validation` (as notebook 07 chose), and is then scored once on `fly/test`. (Your
network joins the table in full mode; in fast mode section 3 has scored it.)"""),
    code("""\
validation = data.load_dataset("fly/validation")


def affinities(model, volume, lsds=None):
    # the nearest-neighbour affinities (the first three channels of every network here);
    # ACRLSD in two passes, the LSDs of the whole volume first (given, if predicted already)
    if isinstance(model, AutoContext):
        return predict_two_pass(model, volume.raw, lsds=lsds, device=cfg.device)[:3]
    return predict_blocks(model, volume.raw, device=cfg.device, progress=False)[:3]  # lsds unused


fly = {}
for label, name in FLY.items():
    if name in predicted:
        test_affs = predicted[name][:3]
    else:  # ACRLSD reads the LSDs of 06_lsd_fly, predicted above
        test_affs = affinities(shipped[name].model, test, predicted["06_lsd_fly"][-10:])
    fly[label] = operating_point(affinities(shipped[name].model, validation), validation.labels,
                                 test_affs, test.labels, voxel_size=test.voxel_size,
                                 watershed=False)  # notebook 07 has the watershed baseline
if cfg.mode == "full":  # yours, trained long enough to be compared
    fly[f"yours ({result.iterations_done} it)"] = operating_point(
        affinities(net, validation), validation.labels, predicted["yours"][:3], test.labels,
        voxel_size=test.voxel_size, watershed=False)
print(operating_point_table(fly))"""),
    code("""\
viz.plot_split_merge({label: p.test for label, p in fly.items()},
                     chosen={label: p.threshold for label, p in fly.items()}, limit=3);"""),
    code("""\
TODO: the claims that hold in the final numbers, each as a check""", checked=True),
    markdown("""\
TODO(text): what the table and the curves show.

### Where do the merges happen?

The data have hard cases on purpose: patches where the membrane between two neurons is faint
or missing (`test.membrane_gaps`), and many thin neurites. For every pair of touching neurons
that a segmentation joins, we ask where they touch: at a membrane gap (the gap dilated by 2
voxels in y and x, as in notebook 04), along a thin neurite (one of the two has its median
voxel at most 16 nm from its surface), or elsewhere. Pairs joined only through a third neuron
are counted apart."""),
    code("""\
near_gap = ndimage.binary_dilation(test.membrane_gaps, structure=np.ones((1, 5, 5), bool))
thin = errors.thin_objects(test.labels, voxel_size=test.voxel_size, radius_nm=16)
touching = np.unique(errors.contact_pairs(test.labels), axis=0)
at_gaps = errors.pairs_touching_in(test.labels, near_gap)
print(f"fly/test: {len(touching)} pairs of touching neurons, {len(at_gaps)} of them touch at "
      f"a membrane gap; {len(thin)} thin neurites")
print(f"{'merged pairs':<16}" + "".join(f"{cause:>22}" for cause in errors.CAUSES))
merges = {label: errors.merges_by_cause(test.labels, p.segmentation, gaps=near_gap, thin=thin)
          for label, p in fly.items()}
for label, found in merges.items():
    print(f"{label:<16}" + "".join(f"{len(found[cause]):>22}" for cause in errors.CAUSES))"""),
    markdown("""\
TODO(text): where LSDs act, from the counts.

## 5. A fly network on zebrafish

**Goal:** see the domain shift of the lecture's last slide, and what a few annotated
sections of the new domain buy, at equal footing.

The zebrafish volume is other tissue, other staining, 12 nm pixels instead of 8 and 36 nm
sections: the network sees neurites at another scale in every direction. Each fly network is
used as it is, and after fine-tuning on the first 16 sections of `zebrafish/train`; every one
gets its operating point chosen on `zebrafish/validation` (a threshold tuned on fly would
not be fair to any of them). Fast mode compares affinities and MTLSD, the lecture's slide;
full mode adds auto-context."""),
    code("""\
zebrafish_validation = data.load_dataset("zebrafish/validation")
# full mode: both ACRLSD networks read the LSDs of the same (fly) LSD network: predict once
zf_lsds = {v.name: predict_blocks(shipped["06_lsd_fly"].model, v.raw, device=cfg.device,
                                  progress=False)[-10:]
           for v in (zebrafish_validation, zebrafish_test)} if cfg.mode == "full" else {}
zebrafish = {}
for label, name in FLY.items():
    if label == "ACRLSD" and cfg.mode != "full":
        continue
    for tuned in (False, True):
        model = shipped[f"{name}_tuned_zebrafish" if tuned else name].model
        zebrafish[f"{label}{' + 16 zf' if tuned else ''}"] = operating_point(
            affinities(model, zebrafish_validation, zf_lsds.get(zebrafish_validation.name)),
            zebrafish_validation.labels,
            affinities(model, zebrafish_test, zf_lsds.get(zebrafish_test.name)),
            zebrafish_test.labels, voxel_size=zebrafish_test.voxel_size, watershed=False)
print(operating_point_table(zebrafish))"""),
    code("""\
TODO: the domain-shift claims that hold, each as a check""", checked=True),
    markdown("""\
TODO(text): the domain shift, from the numbers.

## Summary

TODO(text): back to Zendo, with the numbers of sections 3-5.

**Questions to discuss.**

TODO: the four questions of the old notebook (kept), and one on auto-context against
multi-task."""),
]


def main() -> int:
    nb = json.loads(NOTEBOOK.read_text())
    cells = nb["cells"]
    if not cells[0]["source"][0].startswith("# 06"):
        print("unexpected first cell", file=sys.stderr)
        return 1
    cells[0] = markdown(INTRO)
    cells[14] = markdown(MASK)
    edits = {2: [("from mbl_seg import checks, data, evaluate, viz",
                  "from mbl_seg import checks, data, errors, viz"),
                 ("from mbl_seg.checkpoints import load_pretrained\n",
                  "from mbl_seg.autocontext import AutoContext, predict_two_pass\n"
                  "from mbl_seg.checkpoints import load_pretrained\n"),
                 ("from mbl_seg.models import",
                  "from mbl_seg.lsd_quality import channel_means, lsd_quality\n"
                  "from mbl_seg.models import"),
                 ("from mbl_seg.predict import predict_blocks\n"
                  "from mbl_seg.segment import watershed_from_affinities\n",
                  "from mbl_seg.operating_point import operating_point\n"
                  "from mbl_seg.operating_point import table as operating_point_table\n"
                  "from mbl_seg.predict import predict_blocks\n")],
             15: [("PATCH = cfg.pick(fast=(44, 92, 92), full=(48, 132, 132))\n"
                   "pipeline = Pipeline(Source.from_dataset(train_data), patch_shape=PATCH,",
                   "# full mode: the shipped networks' recipe, 96^3 patches and the volume mirrored\n"
                   "# in z by half the network's context, so that every section's labels are used\n"
                   "PATCH = cfg.pick(fast=(44, 92, 92), full=(96, 96, 96))\n"
                   "source = Source.from_dataset(train_data).mirrored_z(cfg.pick(fast=0, full=20))\n"
                   "pipeline = Pipeline(source, patch_shape=PATCH,")]}
    for index, pairs in edits.items():
        source = "".join(cells[index]["source"])
        for old, new in pairs:
            if old not in source:
                print(f"cell {index}: {old!r} not found", file=sys.stderr)
                return 1
            source = source.replace(old, new)
        cells[index]["source"] = source.splitlines(True)
    cut = next(i for i, c in enumerate(cells) if c["cell_type"] == "markdown"
               and "".join(c["source"]).startswith("A few dozen iterations on a CPU"))
    nb["cells"] = cells[:cut] + NEW
    NOTEBOOK.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
