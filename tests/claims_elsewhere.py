"""Numbers in the solution notebooks' text that no cell of the notebook prints, and why.

tests/test_claims.py requires every measured-looking number of a solution's markdown (a
decimal, a percentage, a time, a ratio) to be printed by one of its cells, at the text's
precision. The numbers listed here are the exceptions: each is not a measurement of the
notebook (the input of a worked example, a number made up for a question), or comes from
a source named here. Key: (notebook, the number as written, a few words of its context).
"""

ELSEWHERE = {
    ("00_setup_and_data", "0.6", "another has 0.6 and 0.1"):
        "made up for a discussion question: two segmentations to rank by VOI",
    ("04_malis", "0.61", "are high (0.61-0.98)"):
        "the hand-made toy affinities the next cell defines (the exercise's input)",
    ("04_malis", "0.5", "a share below 0.5 % is"):
        "a setting of the figure (edges with a smaller share get no label), not a measurement",
    ("05_3d_unet", "78", "(64·168·168) ≈ 78 %"):
        "arithmetic written out in the answer itself: 1 - (24·128·128)/(64·168·168) (until "
        "this session a printed note's 0.7816... matched it by chance)",
    ("06_lsds", "4.5", "4.5 times thinner"):
        "arithmetic of the voxel sizes the notebook prints: 36 nm sections against 8 nm",
    ("07_agglomeration", "2.7", "of mean (2.7 + 0.1) / 4"):
        "a worked example of the merge rule: 3 contacts of mean 0.9 sum to 2.7",
    ("07_agglomeration", "0.62", "5 contacts of mean 0.62"):
        "made up for a discussion question on mean scoring",
    ("08_scaling_up", "0.5", "about 1 mm × 0.5 mm across"):
        "the rough bounding box of the fly brain, an input of the estimate (BOX_UM in the "
        "next cell), not a measurement",
}
