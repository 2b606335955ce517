"""The final table: its markdown, README's copy of it, and the machinery that fills it."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from mbl_seg import leaderboard
from mbl_seg.cli import main as cli
from mbl_seg.leaderboard import END, START, Row

ROOT = Path(__file__).resolve().parents[1]
ROWS = [Row("classical boundaries (01)", "watershed, per section", 4.0, 1.5, 0.91234, 3.04),
        Row("3D U-Net affinities (05)", "agglomeration, t = 0.40", 0.5, 0.25, 0.1, 20.0)]
README = f"# title\n\nbefore  \n{START}\nold table\n{END}\n\nafter | keep\n"


def test_markdown_has_one_line_per_row_with_the_total_and_the_note_under_it():
    text = leaderboard.markdown(ROWS, note="Times vary.")
    lines = text.splitlines()
    assert lines[0] == ("| method | segmentation | VOI split | VOI merge | VOI total | ARAND "
                        "| time (s) |")
    assert lines[2] == ("| classical boundaries (01) | watershed, per section | 4.000 | 1.500 "
                        "| 5.500 | 0.912 | 3.0 |")
    assert lines[3].endswith("| 0.500 | 0.250 | 0.750 | 0.100 | 20.0 |")
    assert lines[-2:] == ["", "Times vary."]
    assert leaderboard.markdown([]).count("\n") == 1  # the header alone


def test_markdown_refuses_what_is_not_rows():
    with pytest.raises(TypeError, match="Row"):
        leaderboard.markdown([("a", "b", 1, 2, 3, 4)])
    with pytest.raises(TypeError, match="Row"):
        leaderboard.markdown(ROWS[0])
    with pytest.raises(ValueError, match=r"'\|'"):
        leaderboard.markdown([ROWS[0]._replace(method="a | b")])


def test_the_block_between_the_markers_is_replaced_and_nothing_else(tmp_path):
    new = leaderboard.replace_block(README, "| new |")
    assert new == f"# title\n\nbefore  \n{START}\n| new |\n{END}\n\nafter | keep\n"
    assert leaderboard.replace_block(new, "\n\n| new |\n") == new  # idempotent
    path = tmp_path / "README.md"
    path.write_text(README)
    assert leaderboard.update_readme(path, leaderboard.markdown(ROWS)) == path
    text = path.read_text()
    assert text.startswith(f"# title\n\nbefore  \n{START}\n| method |")
    assert text.endswith(f"| 20.0 |\n{END}\n\nafter | keep\n")


@pytest.mark.parametrize("text", ["no markers", f"{START} only", f"{END} then {START}",
                                  f"{START}{START}{END}", f"{START}{END}{END}"])
def test_missing_or_misplaced_markers_are_a_clear_error_and_the_file_is_untouched(tmp_path,
                                                                                 text):
    with pytest.raises(ValueError, match="leaderboard:start"):
        leaderboard.replace_block(text, "x")
    path = tmp_path / "README.md"
    path.write_text(text)
    with pytest.raises(ValueError, match="README.md"):
        leaderboard.update_readme(path, "x")
    assert path.read_text() == text
    with pytest.raises(FileNotFoundError):
        leaderboard.update_readme(tmp_path / "missing.md", "x")
    with pytest.raises(TypeError):
        leaderboard.replace_block(text, None)


def test_the_cli_checks_the_readme_before_it_computes_anything(tmp_path, capsys):
    path = tmp_path / "README.md"
    path.write_text("no markers here\n")
    assert cli(["leaderboard", "--readme", str(path)]) == 1
    assert "leaderboard:start" in capsys.readouterr().err
    assert cli(["leaderboard", "--readme", str(tmp_path / "missing.md")]) == 1


def test_read_table_gives_back_the_rows_up_to_rounding():
    text = leaderboard.replace_block(README, leaderboard.markdown(ROWS, note="a | b | c"))
    rows = leaderboard.read_table(text)
    assert [(r.method, r.segmentation) for r in rows] == [(r.method, r.segmentation)
                                                          for r in ROWS]
    for got, want in zip(rows, ROWS):
        assert got.voi_split == pytest.approx(want.voi_split, abs=5e-4)
        assert got.arand == pytest.approx(want.arand, abs=5e-4)
        assert got.seconds == pytest.approx(want.seconds, abs=0.05)


def test_arguments_are_checked_before_any_work():
    with pytest.raises(ValueError, match="names from"):
        leaderboard.final_table(methods=["deep"])
    with pytest.raises(TypeError, match="list of names"):
        leaderboard.final_table(methods="classical")
    with pytest.raises(ValueError, match="h must be"):
        leaderboard.final_table(methods=["classical"], h=0)
    with pytest.raises(ValueError, match="increase"):
        leaderboard.final_table(methods=["affs3d"], thresholds=[0.5, 0.3])
    with pytest.raises(TypeError, match="sequence of numbers"):
        leaderboard.final_table(methods=["affs3d"], thresholds=0.5)
    with pytest.raises(TypeError, match="tuple of up to 3 slices"):
        leaderboard.final_table(methods=["classical"], crop=(4, 64))
    with pytest.raises(ValueError, match="leaves nothing"):
        leaderboard.final_table(methods=["classical"], crop=np.s_[5:5])
    section = SimpleNamespace(raw=np.zeros((8, 8), np.uint8), labels=np.ones((8, 8), np.uint64),
                              voxel_size=(8.0, 8.0))
    with pytest.raises(ValueError, match="3D volume"):
        leaderboard.final_table(section, methods=["classical"])
    with pytest.raises(TypeError, match="dataset name"):
        leaderboard.final_table(np.zeros((2, 8, 8)), methods=["classical"])


def test_every_kind_of_row_on_a_small_crop():
    crop = np.s_[:8, :64, :64]
    rows = leaderboard.final_table(methods=["classical", "malis2d", "affs3d"], crop=crop,
                                   device="cpu")
    assert [(r.method, r.segmentation.split(",")[0]) for r in rows] == [
        ("classical boundaries (01)", "watershed"),
        ("2D U-Net affinities, MALIS (04)", "watershed"),
        ("3D U-Net affinities (05)", "watershed"), ("3D U-Net affinities (05)", "agglomeration")]
    assert rows[0].segmentation == "watershed, per section" and rows[2].segmentation == "watershed"
    for row in rows:
        assert 0 <= row.voi_split and 0 <= row.voi_merge and 0 <= row.arand <= 1
        assert 0 < row.seconds < 120
    # the agglomeration row counts the prediction it shares with the watershed row
    assert rows[3].seconds > 0


def test_the_readme_table_is_read_back_and_compared_row_by_row():
    shown = leaderboard.readme_rows()
    assert shown is not None and len(shown) >= 8
    assert leaderboard.largest_difference(shown, shown) == 0.0
    worse = [shown[0]._replace(arand=shown[0].arand + 0.25), *shown[1:]]
    assert leaderboard.largest_difference(shown, worse) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="different rows"):
        leaderboard.largest_difference(shown, shown[1:])


def test_notebook_07_checks_that_its_final_table_is_the_readmes():
    """The real run (fly/test, every method, about two minutes) is notebook 07's: its
    checked cell compares the table it makes with README.md's, so the README's numbers
    are not typed by hand and the suite does not compute the table twice."""
    import nbformat

    cells = nbformat.read(ROOT / "solutions" / "07_agglomeration.ipynb", as_version=4).cells
    checked = [c.source for c in cells if c.cell_type == "code"
               and c.source.startswith("# NBVAL_CHECK_OUTPUT")
               and "largest_difference(" in c.source and "readme_rows()" in c.source]
    assert len(checked) == 1
    shown = "".join(o.get("text", "") for c in cells if c.cell_type == "code"
                    and "largest_difference(" in c.source for o in c.get("outputs", []))
    assert "✅ the table above is the README's" in shown


def test_each_table_has_its_own_markers_and_only_its_block_changes(tmp_path, capsys):
    start, end = leaderboard.markers("zebrafish")
    text = f"{README}\n{start}\nold\n{end}\n"
    new = leaderboard.replace_block(text, "| zf |", table="zebrafish")
    assert new == f"{README}\n{start}\n| zf |\n{end}\n"
    assert leaderboard.replace_block(new, "| fly |") == new.replace("old table", "| fly |")
    assert leaderboard.read_table(new, table="zebrafish") == []
    with pytest.raises(ValueError, match="leaderboard zebrafish:start"):
        leaderboard.replace_block(README, "x", table="zebrafish")
    with pytest.raises(ValueError, match="table must be one of"):
        leaderboard.markers("mouse")
    assert all(set(t.methods) <= set(leaderboard.METHODS) for t in leaderboard.TABLES.values())
    assert tuple(leaderboard.TABLES) == leaderboard.TABLE_NAMES
    path = tmp_path / "README.md"  # the fly table's markers only: the CLI stops at once
    path.write_text(README)
    assert cli(["leaderboard", "--table", "zebrafish", "--readme", str(path)]) == 1
    assert "leaderboard zebrafish:start" in capsys.readouterr().err


def test_chosen_agglomeration_is_the_final_tables_choice():
    crop = np.s_[:12, :64, :64]
    (_, row) = leaderboard.final_table(methods=["affs3d"], crop=crop, device="cpu")
    scoring, threshold = leaderboard.chosen_agglomeration("affs3d", crop=crop, device="cpu")
    assert row.segmentation == f"agglomeration, {scoring}, t = {threshold:.2f}"
    with pytest.raises(ValueError, match="not agglomerated in the final table"):
        leaderboard.chosen_agglomeration("classical")


def test_the_real_volume_on_the_networks_grid_is_scored_on_its_own():
    """The fibsem table's resampled rows are notebook 09's pipeline (apply.score_volume)."""
    from mbl_seg import data
    from mbl_seg.apply import score_volume

    crop = np.s_[:16, :48, :48]
    rows = leaderboard.final_table("fibsem/test", validation="fibsem/train",
                                   methods=["affs3d_grid"], crop=crop, device="cpu")
    test, train = (data.load_dataset(f"fibsem/{n}") for n in ("test", "train"))

    class Crop:
        def __init__(self, ds):
            self.raw, self.labels, self.voxel_size = ds.raw[crop], ds.labels[crop], ds.voxel_size

    same = score_volume("05_affs3d_fly", Crop(test), Crop(train), device="cpu")
    agglomerated = rows[1]
    assert agglomerated.segmentation == f"agglomeration, {same.scoring}, t = {same.threshold:.2f}"
    assert agglomerated.voi_split == pytest.approx(same.scores.voi_split, abs=1e-9)
    assert agglomerated.voi_merge == pytest.approx(same.scores.voi_merge, abs=1e-9)
    assert leaderboard.TABLES["fibsem"].volume == "fibsem/test"
