"""Zendo, the course's opener: guess a hidden rule from labelled examples, then test the guess.

In the game a master thinks of a rule about small scenes of pieces (a piece
has a shape, a colour and a size); the players see scenes marked "follows the
rule" or "does not", build scenes of their own to ask about, and name the
rule when they think they know it. It is what training a network is: labelled
examples in, a rule out, and the rule can only be as precise as the examples
are. The last rule of the game makes that point: its examples fit two rules
equally well, and no amount of looking at them can tell which one the master
meant. A network trained on such labels learns one of the two, and nothing in
its training says which.

Everything here is plain Python: a scene is a tuple of :class:`Piece`, a rule
a function ``scene -> bool``. :func:`check_rule` compares a guess with the
master's rule on every scene of up to three pieces and names a scene where they
differ. The game's widget is :func:`mbl_seg.viz.zendo_game`.

Used in: notebooks/00_setup_and_data.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

__all__ = [
    "COLOURS",
    "RULES",
    "SHAPES",
    "SIZES",
    "Piece",
    "Rule",
    "all_scenes",
    "candidate_rules",
    "check_rule",
    "describe",
    "examples",
]

SHAPES = ("circle", "square", "triangle")
COLOURS = ("red", "blue", "yellow")
SIZES = ("small", "large")
MAX_PIECES = 3


class Piece(NamedTuple):
    """One piece of a scene: ``Piece("triangle", "red", "large")``."""

    shape: str
    colour: str
    size: str

    def __str__(self) -> str:
        return f"{self.size} {self.colour} {self.shape}"


class Rule(NamedTuple):
    """A hidden rule: its ``name`` (said when it is revealed) and its test ``follows(scene)``.

    ``confound`` names another rule that every one of this rule's examples also
    fits (the last round: the examples cannot tell the two apart).
    """

    name: str
    follows: Callable[[tuple], bool]
    confound: Callable[[tuple], bool] | None = None
    confound_name: str | None = None


def _count(scene, **what) -> int:
    return sum(all(getattr(p, k) == v for k, v in what.items()) for p in scene)


RULES: tuple[Rule, ...] = (
    Rule("there is a red piece", lambda s: _count(s, colour="red") > 0),
    Rule("there are more circles than squares",
         lambda s: _count(s, shape="circle") > _count(s, shape="square")),
    Rule("every triangle is large (a scene without triangles follows it too)",
         lambda s: all(p.size == "large" for p in s if p.shape == "triangle")),
    Rule("there is a blue piece", lambda s: _count(s, colour="blue") > 0,
         confound=lambda s: _count(s, size="large") > 0, confound_name="there is a large piece"),
)


def candidate_rules() -> list[tuple[str, Callable[[tuple], bool]]]:
    """What a player may say the rule is: ``(name, follows)`` of many rules, sorted by name.

    Rules of the forms the rounds use (a colour, shape or size is there or not; more pieces of
    one shape than of another; every piece of a shape has a size; how many pieces), so that
    the list holds every round's rule without pointing at it.

    >>> names = [name for name, _ in candidate_rules()]
    >>> RULES[1].name in names, len(names)
    (True, 28)
    """
    plural = {"circle": "circles", "square": "squares", "triangle": "triangles"}
    pool: dict[str, Callable[[tuple], bool]] = {}
    for colour in COLOURS:
        pool[f"there is a {colour} piece"] = lambda s, c=colour: _count(s, colour=c) > 0
        pool[f"no piece is {colour}"] = lambda s, c=colour: _count(s, colour=c) == 0
    for shape in SHAPES:
        pool[f"there is a {shape}"] = lambda s, h=shape: _count(s, shape=h) > 0
        for other in SHAPES:
            if other != shape:
                pool[f"there are more {plural[shape]} than {plural[other]}"] = (
                    lambda s, a=shape, b=other: _count(s, shape=a) > _count(s, shape=b))
        for size in SIZES:
            pool[f"every {shape} is {size} (a scene without {plural[shape]} follows it too)"] = (
                lambda s, h=shape, z=size: all(p.size == z for p in s if p.shape == h))
    for size in SIZES:
        pool[f"there is a {size} piece"] = lambda s, z=size: _count(s, size=z) > 0
        pool[f"every piece is {size}"] = lambda s, z=size: _count(s, size=z) == len(s)
    pool["there is exactly one piece"] = lambda s: len(s) == 1
    pool["there are at least two pieces"] = lambda s: len(s) >= 2
    pool["there are three pieces"] = lambda s: len(s) == 3
    for rule in RULES:  # the rounds' own rules are among them, by the same names
        pool.setdefault(rule.name, rule.follows)
    return sorted(pool.items())


def all_scenes(max_pieces: int = MAX_PIECES) -> list[tuple[Piece, ...]]:
    """Every scene of 1 to ``max_pieces`` pieces (order does not matter; repeats allowed).

    >>> len(all_scenes(1)), len(all_scenes(2))
    (18, 189)
    """
    kinds = [Piece(*k) for k in itertools.product(SHAPES, COLOURS, SIZES)]
    return [scene for n in range(1, max_pieces + 1)
            for scene in itertools.combinations_with_replacement(kinds, n)]


def _rule(rule) -> Rule:
    if isinstance(rule, Rule):
        return rule
    if isinstance(rule, (int, np.integer)) and not isinstance(rule, bool):
        if not 0 <= rule < len(RULES):
            raise ValueError(f"there are {len(RULES)} rules (0 to {len(RULES) - 1}), got {rule}")
        return RULES[int(rule)]
    raise TypeError(f"rule must be a Rule or a round number 0-{len(RULES) - 1}, got {rule!r}")


def examples(rule: Rule | int, n: int = 8, *, seed: int = 0) -> list[tuple[tuple, bool]]:
    """``n`` labelled scenes for ``rule``, half that follow it and half that do not.

    For a rule with a ``confound``, every example is labelled the same by both rules:
    they are chosen so that nothing in them tells the two apart.

    >>> [follows for _, follows in examples(0, 4, seed=1)]
    [True, False, True, False]
    """
    rule = _rule(rule)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2 or n % 2:
        raise ValueError(f"n must be an even number of examples >= 2, got {n!r}")
    rng = np.random.default_rng(seed)
    scenes = all_scenes()
    order = rng.permutation(len(scenes))
    yes, no = [], []
    for i in order:
        scene = scenes[i]
        label = bool(rule.follows(scene))
        if rule.confound is not None and bool(rule.confound(scene)) != label:
            continue
        (yes if label else no).append(scene)
        if len(yes) >= n // 2 and len(no) >= n // 2:
            break
    return [pair for k in range(n // 2) for pair in ((yes[k], True), (no[k], False))]


def describe(scene: Sequence[Piece]) -> str:
    """``"small red circle, large blue square"``."""
    return ", ".join(str(p) for p in scene)


class RuleCheck(NamedTuple):
    """The outcome of :func:`check_rule`: does the guess agree on every scene, and where not."""

    same: bool
    scenes: int
    counterexample: tuple | None
    master_says: bool | None
    message: str

    def __str__(self) -> str:
        return self.message

    def __bool__(self) -> bool:
        return self.same

    def _ipython_display_(self) -> None:
        # check_rule printed the message already: no second copy as Out[...]
        pass


def check_rule(guess: Callable[[tuple], bool], rule: Rule | int, *, whose: str = "your",
               verbose: bool = True) -> RuleCheck:
    """Compare ``guess(scene) -> bool`` with the master's ``rule`` on every scene (1-3 pieces).

    ``whose`` names the guess in the message: ``"your"`` for the player's own rule,
    ``"this"`` where a notebook checks a rule the student did not write (e.g. to show
    that a rule fitting every example can still be wrong).

    >>> check_rule(lambda s: any(p.colour == "red" for p in s), 0, verbose=False).same
    True
    >>> r = check_rule(lambda s: any(p.shape == "circle" for p in s), 0, verbose=False)
    >>> r.same, describe(r.counterexample), r.master_says
    (False, 'small blue circle', False)
    """
    rule = _rule(rule)
    if whose not in ("your", "this"):
        raise ValueError(f"whose must be 'your' or 'this', got {whose!r}")
    if not callable(guess):
        raise TypeError(f"guess must be a function scene -> bool, got {type(guess).__name__}")
    scenes = all_scenes()
    for scene in scenes:
        try:
            said = guess(scene)
        except NotImplementedError:
            message = "your rule is not written yet: fill in the TODO, then run this cell again"
            result = RuleCheck(False, len(scenes), None, None, message)
            break
        except Exception as error:  # noqa: BLE001 - the player's code; say what broke
            message = (f"your rule failed on the scene ({describe(scene)}): "
                       f"{type(error).__name__}: {error}")
            result = RuleCheck(False, len(scenes), scene, bool(rule.follows(scene)), message)
            break
        if bool(said) != bool(rule.follows(scene)):
            master = bool(rule.follows(scene))
            message = (f"❌ not the master's rule: for ({describe(scene)}) {whose} rule says "
                       f"{'yes' if said else 'no'}, the master says {'yes' if master else 'no'}")
            if rule.confound is not None and bool(said) == bool(rule.confound(scene)):
                message += (f". {whose.capitalize()} rule is '{rule.confound_name}': it fits "
                            "every example you "
                            "were shown, and so does the master's rule. The examples could not "
                            "tell them apart; only new questions can")
            result = RuleCheck(False, len(scenes), scene, master, message)
            break
    else:
        result = RuleCheck(True, len(scenes), None, None,
                           f"✅ the master's rule ('{rule.name}'): {whose} rule agrees on all "
                           f"{len(scenes)} scenes of 1 to {MAX_PIECES} pieces")
    if verbose:
        print(result.message)
    return result
