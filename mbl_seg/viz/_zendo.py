"""The Zendo opener as a widget: labelled scenes, questions to the master, a guess."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Rectangle, RegularPolygon

from .. import zendo
from ._browser import _png_output

__all__ = ["draw_scenes", "zendo_game"]

_RGB = {"red": "#d62728", "blue": "#1f77b4", "yellow": "#f2c400"}
_RADIUS = {"small": 0.22, "large": 0.4}

def _draw_piece(ax, piece, x: float) -> None:
    r, colour = _RADIUS[piece.size], _RGB[piece.colour]
    kw = {"facecolor": colour, "edgecolor": "black", "lw": 1}
    if piece.shape == "circle":
        ax.add_patch(Circle((x, 0.5), r, **kw))
    elif piece.shape == "square":
        ax.add_patch(Rectangle((x - r * 0.9, 0.5 - r * 0.9), 1.8 * r * 0.9, 1.8 * r * 0.9, **kw))
    else:
        ax.add_patch(RegularPolygon((x, 0.45), 3, radius=r * 1.15, **kw))


def draw_scenes(scenes: Sequence[tuple], labels: Sequence[bool | None] | None = None, *,
                columns: int = 4, title: str | None = None) -> Figure:
    """Draw Zendo scenes, framed green ("follows the rule"), grey ("does not") or plain.

    >>> from mbl_seg.zendo import Piece
    >>> fig = draw_scenes([(Piece("circle", "red", "large"),)], [True])
    >>> len(fig.axes), len(fig.axes[0].patches)
    (1, 1)
    """
    scenes = list(scenes)
    if not scenes:
        raise ValueError("no scenes to draw")
    labels = [None] * len(scenes) if labels is None else list(labels)
    if len(labels) != len(scenes):
        raise ValueError(f"one label per scene: {len(labels)} labels for {len(scenes)} scenes")
    for scene in scenes:
        if not all(isinstance(p, zendo.Piece) for p in scene):
            raise TypeError("each scene is a tuple of mbl_seg.zendo.Piece")
    columns = min(columns, len(scenes))
    rows = -(-len(scenes) // columns)
    fig = Figure(figsize=(2.9 * columns, 1.25 * rows + (0.35 if title else 0)),
                 layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, columns)).ravel()
    for ax in axes[len(scenes):]:
        ax.remove()
    for ax, scene, label in zip(axes, scenes, labels):
        for k, piece in enumerate(scene):
            _draw_piece(ax, piece, 0.5 + k)
        ax.set(xlim=(0, zendo.MAX_PIECES), ylim=(0, 1), aspect="equal", xticks=[], yticks=[])
        frame = {True: ("#2ca02c", "follows"), False: ("0.6", "does not"),
                 None: ("0.85", "")}[None if label is None else bool(label)]
        for spine in ax.spines.values():
            spine.set(color=frame[0], lw=4 if label is not None else 1)
        if frame[1]:
            ax.set_title(frame[1], fontsize=9, color=frame[0] if label else "0.35")
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def zendo_game(round: int = 0, *, examples: int = 8, seed: int = 0):
    """Play one round of Zendo: study the examples, ask about your own scenes, then guess.

    Parameters
    ----------
    round : int
        0 to 3, easy to hard; round 3's examples fit two rules (the point of the game).
    examples : int
        How many labelled scenes the master shows (even).
    seed : int
        Which examples.

    Returns
    -------
    ipywidgets.VBox

    Examples
    --------
    >>> box = zendo_game(0)
    >>> len(box.children) > 3
    True
    """
    import ipywidgets as widgets

    rule = zendo.RULES[_round(round)]
    shown = zendo.examples(rule, examples, seed=seed)
    board = widgets.Output()
    board.outputs = (_png_output(draw_scenes(
        [s for s, _ in shown], [f for _, f in shown],
        title=f"Round {round}: which scenes follow the master's rule?")),)

    slots = [[widgets.Dropdown(options=["-", *zendo.SIZES], value="-", layout={"width": "80px"}),
              widgets.Dropdown(options=list(zendo.COLOURS), layout={"width": "80px"}),
              widgets.Dropdown(options=list(zendo.SHAPES), layout={"width": "90px"})]
             for _ in range(zendo.MAX_PIECES)]
    slots[0][0].value = "small"
    ask = widgets.Button(description="Ask the master", button_style="info")
    answers = widgets.Output()
    asked: list[tuple[tuple, bool]] = []

    def scene_from_slots() -> tuple:
        return tuple(zendo.Piece(shape.value, colour.value, size.value)
                     for size, colour, shape in slots if size.value != "-")

    def on_ask(_button=None) -> None:
        scene = scene_from_slots()
        if not scene:
            answers.outputs = ({"output_type": "stream", "name": "stdout",
                                "text": "Choose a size for at least one piece.\n"},)
            return
        asked.append((scene, bool(rule.follows(scene))))
        last = asked[-8:]
        answers.outputs = (_png_output(draw_scenes(
            [s for s, _ in last], [f for _, f in last],
            title=f"Your questions ({len(asked)} so far; the last {len(last)} shown)")),)

    ask.on_click(on_ask)

    candidates = dict(zendo.candidate_rules())  # many rules of the rounds' forms, sorted
    guess = widgets.Dropdown(options=list(candidates), description="The rule is:",
                             layout={"width": "620px"}, style={"description_width": "initial"})
    try_it = widgets.Button(description="Guess", button_style="warning")
    verdict = widgets.Output()
    guesses = []
    state = {"asked at the last wrong guess": None}

    def on_guess(_button=None) -> None:
        # as in Zendo, a wrong guess costs: ask about one more scene before the next guess
        # (else the guess list can be tried top to bottom without a thought)
        if state["asked at the last wrong guess"] == len(asked):
            verdict.outputs = ({"output_type": "stream", "name": "stdout", "text": (
                "Ask the master about a scene of your own before you guess again: after a "
                "wrong guess, a question first (the counterexample above is a good start).\n")},)
            return
        guesses.append(guess.value)
        result = zendo.check_rule(candidates[guess.value], rule, verbose=False)
        state["asked at the last wrong guess"] = None if result.same else len(asked)
        text = f"Guess {len(guesses)}: {result.message}"
        if result.same:
            text += (f"\n(after {len(guesses)} guess{'es' if len(guesses) > 1 else ''} and "
                     f"{len(asked)} question{'' if len(asked) == 1 else 's'}: a question costs "
                     "less than a wrong guess)\n\n" + _point(rule))
        verdict.outputs = ({"output_type": "stream", "name": "stdout", "text": text + "\n"},)

    try_it.on_click(on_guess)
    rows = [widgets.HBox([widgets.Label(f"piece {k + 1}"), *slot]) for k, slot in enumerate(slots)]
    return widgets.VBox([board, widgets.HTML("<b>Build a scene and ask</b> (size '-' leaves a "
                                             "piece out):"), *rows, ask, answers,
                         widgets.HBox([guess, try_it]), verdict])


def _round(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"round must be an int 0-{len(zendo.RULES) - 1}, got {value!r}")
    if not 0 <= value < len(zendo.RULES):
        raise ValueError(f"round must be 0-{len(zendo.RULES) - 1}, got {value}")
    return int(value)


def _point(rule) -> str:
    if rule.confound is None:
        return "Right. Try the next round."
    return (f"Right, but could you have known from the examples alone? Every example fits "
            f"'{rule.confound_name}' just as well: only a question the examples did not answer "
            "(a small blue piece, a large yellow one) tells the two rules apart. A network has "
            "no such questions: it learns whichever rule its labels happen to support, and "
            "nothing in its training says which. It learns only what the labels show.")
