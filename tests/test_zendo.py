"""The Zendo opener: examples follow the rule, guesses are checked on every scene."""

import pytest

from mbl_seg import zendo


def test_every_scene_is_counted_once():
    scenes = zendo.all_scenes()
    assert len(scenes) == len(set(scenes)) == 18 + 171 + 1140  # 1, 2, 3 of 18 kinds
    assert all(1 <= len(s) <= 3 for s in scenes)


@pytest.mark.parametrize("round", range(len(zendo.RULES)))
def test_examples_are_labelled_by_the_rule_half_and_half(round):
    rule = zendo.RULES[round]
    shown = zendo.examples(round, 8, seed=3)
    assert [f for _, f in shown] == [True, False] * 4
    assert all(rule.follows(s) == f for s, f in shown)
    assert zendo.check_rule(rule.follows, round, verbose=False).same


def test_the_last_round_cannot_be_told_from_its_confound_by_its_examples():
    rule = zendo.RULES[-1]
    assert rule.confound is not None
    for seed in range(5):
        assert all(rule.confound(s) == f for s, f in zendo.examples(rule, 8, seed=seed))
    result = zendo.check_rule(rule.confound, rule, verbose=False)
    assert not result.same  # but the two rules differ on some scene
    assert rule.follows(result.counterexample) != rule.confound(result.counterexample)
    assert "could not tell them apart" in result.message


def test_a_wrong_guess_gets_a_scene_where_it_differs(capsys):
    result = zendo.check_rule(lambda s: len(s) > 1, 0)
    assert not result.same
    scene = result.counterexample
    assert (len(scene) > 1) != zendo.RULES[0].follows(scene)
    assert result.master_says == zendo.RULES[0].follows(scene)
    assert "the master says" in capsys.readouterr().out


def test_a_guess_that_crashes_is_reported_not_raised():
    result = zendo.check_rule(lambda s: s[5], 0, verbose=False)
    assert not result.same and "IndexError" in result.message


def test_an_unwritten_rule_says_so():
    def my_rule(scene):
        raise NotImplementedError("fill in the TODO")

    result = zendo.check_rule(my_rule, 1, verbose=False)
    assert not result.same and "not written yet" in result.message


@pytest.mark.parametrize("call,error,words", [
    (lambda: zendo.examples(9), ValueError, "rules"),
    (lambda: zendo.examples(0, 3), ValueError, "even"),
    (lambda: zendo.examples("red"), TypeError, "round number"),
    (lambda: zendo.check_rule("red", 0), TypeError, "function"),
])
def test_bad_input_is_explained(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_the_widget_answers_questions_and_judges_guesses():
    from mbl_seg.viz import zendo_game

    box = zendo_game(0)
    widgets = list(_walk(box))
    buttons = {w.description: w for w in widgets if type(w).__name__ == "Button"}
    dropdowns = [w for w in widgets if type(w).__name__ == "Dropdown"]
    size, colour, shape = dropdowns[:3]
    size.value, colour.value, shape.value = "large", "red", "square"
    buttons["Ask the master"].click()
    outputs = [w for w in widgets if type(w).__name__ == "Output"]
    assert any(o.outputs and "image/png" in o.outputs[0].get("data", {}) for o in outputs[1:])
    guess = dropdowns[-1]
    guess.value = "there is a circle"
    buttons["Guess"].click()
    assert "not the master's rule" in outputs[-1].outputs[0]["text"]
    guess.value = zendo.RULES[0].name
    buttons["Ask the master"].click()  # a question before the next guess
    buttons["Guess"].click()
    assert "✅" in outputs[-1].outputs[0]["text"]
    with pytest.raises(ValueError, match="round"):
        zendo_game(7)


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def test_a_rule_the_student_did_not_write_is_this_rule_not_yours():
    rule = zendo.RULES[3]
    result = zendo.check_rule(rule.confound, rule, whose="this", verbose=False)
    assert not result.same and "this rule says" in result.message
    assert f"This rule is '{rule.confound_name}'" in result.message
    assert "your rule" not in result.message.lower()
    with pytest.raises(ValueError, match="whose must be 'your' or 'this', got 'my'"):
        zendo.check_rule(rule.confound, rule, whose="my")


def test_the_guess_list_is_a_pool_of_rules_of_the_same_forms_not_the_answers():
    names = [name for name, _ in zendo.candidate_rules()]
    assert len(names) == len(set(names)) >= 25
    assert names == sorted(names)  # the position gives nothing away
    for rule in zendo.RULES:  # every round's rule, and the last round's confound, is there
        assert rule.name in names
    assert zendo.RULES[3].confound_name in names
    # each candidate is its own rule: no two agree on every scene
    scenes = zendo.all_scenes()
    verdicts = {tuple(bool(f(s)) for s in scenes) for _, f in zendo.candidate_rules()}
    assert len(verdicts) == len(names)
    # a candidate's name says what it does (spot checks of the templates)
    pool = dict(zendo.candidate_rules())
    red, blue = zendo.Piece("circle", "red", "small"), zendo.Piece("square", "blue", "large")
    assert pool["there is a red piece"]((red,)) and not pool["there is a red piece"]((blue,))
    assert pool["there are more squares than circles"]((blue,))
    assert not pool["every piece is large"]((red, blue))


def test_the_widget_counts_the_guesses():
    from mbl_seg.viz import zendo_game

    widgets = list(_walk(zendo_game(1)))
    buttons = {w.description: w for w in widgets if type(w).__name__ == "Button"}
    guess = [w for w in widgets if type(w).__name__ == "Dropdown"][-1]
    verdict = [w for w in widgets if type(w).__name__ == "Output"][-1]
    guess.value = "there is a circle"
    buttons["Guess"].click()
    assert verdict.outputs[0]["text"].startswith("Guess 1:")
    guess.value = zendo.RULES[1].name
    buttons["Guess"].click()  # right, but a wrong guess must be followed by a question first
    assert verdict.outputs[0]["text"].startswith("Ask the master about a scene of your own")
    buttons["Ask the master"].click()
    buttons["Guess"].click()
    text = verdict.outputs[0]["text"]
    assert text.startswith("Guess 2:") and "✅" in text and "1 question:" in text


def test_the_guess_list_cannot_be_tried_top_to_bottom_without_questions():
    """00: the guess list holds every round's rule; trying them all cost nothing."""
    from mbl_seg.viz import zendo_game

    widgets = list(_walk(zendo_game(2)))
    buttons = {w.description: w for w in widgets if type(w).__name__ == "Button"}
    guess = [w for w in widgets if type(w).__name__ == "Dropdown"][-1]
    verdict = [w for w in widgets if type(w).__name__ == "Output"][-1]
    tried = 0
    for option in guess.options:
        guess.value = option
        buttons["Guess"].click()
        if verdict.outputs[0]["text"].startswith("Guess"):
            tried += 1
    assert tried == 1  # one guess, then a question before each further one
