"""JupyterLab itself, started as `make lab` starts it: an exercise runs through the server's
kernel websocket up to its first TODO and shows the slice browser; in headless Chromium, a
solution notebook runs and its slice browser draws a new section when its slider moves."""

import ast
import base64
import io
import json
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
TODO = "raise NotImplementedError"
BROWSER_CALL = "viz.slice_browser("
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# Lab's own settings for the test, in a fresh settings folder (so a developer's settings do not
# leak in): no autosave, which would write the outputs of the run into solutions/; every cell
# in the page (no windowing), so that the slice browser is found without scrolling; no
# news or update checks, which would reach for the internet.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false",
                                                    "checkForUpdates": False},
}


class Lab:
    """A running `jupyter lab` server: its URL, token, log file and process."""

    def __init__(self, url: str, token: str, log: Path, process: subprocess.Popen):
        self.url, self.token, self.log, self.process = url, token, log, process

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n--- server log (tail) ---\n" + "\n".join(text.splitlines()[-lines:])

    def api(self, method: str, path: str, body=None, timeout: float = 30):
        """Call the REST API with the token; the decoded JSON answer (None if empty)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method,
                                         headers={"Authorization": f"token {self.token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            text = answer.read()
        return json.loads(text) if text else None


def _make_lab_flags() -> list[str]:
    """The flags `make lab` gives `jupyter lab` (as `make -n lab` prints them)."""
    done = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True,
                          check=True)
    line = [ln for ln in done.stdout.splitlines() if "jupyter lab" in ln][-1]
    return shlex.split(line.split("jupyter lab", 1)[1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    """Child process ids (the kernels a server started run in their own session)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def _stop(lab: Lab) -> None:
    """Shut the server down through its API (it stops its kernels); kill it if it hangs."""
    kernels = _children(lab.process.pid)
    try:
        lab.api("POST", "/api/shutdown", timeout=5)
    except (OSError, ValueError):
        pass
    try:
        lab.process.wait(timeout=20)
        return
    except subprocess.TimeoutExpired:
        pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in kernels:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        try:
            os.killpg(lab.process.pid, sig)
            lab.process.wait(timeout=5)
            return
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """`jupyter lab` with `make lab`'s flags, on a free port with a known token, no browser."""
    from mbl_seg import data

    data.prepare_datasets(progress=False)  # what `mbl-seg data` makes; the notebooks load them
    tmp = tmp_path_factory.mktemp("lab")
    for plugin, values in LAB_SETTINGS.items():
        path = tmp / "settings" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    # checkpoints (made when Lab opens a notebook) in tmp, not in .ipynb_checkpoints/ folders
    (tmp / "config").mkdir()
    (tmp / "config" / "jupyter_server_config.json").write_text(json.dumps(
        {"FileCheckpoints": {"checkpoint_dir": str(tmp / "checkpoints")}}))
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # conftest's Agg: not
    env.update(JUPYTER_CONFIG_DIR=str(tmp / "config"),  # a student's; nor is their config
               JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
               MBL_SEG_CHECKPOINTS=str(tmp / "trained"),  # as the suite's nbval kernels
               PYTHONUNBUFFERED="1")
    port, token = _free_port(), secrets.token_hex(16)
    flags = [f"--ServerApp.root_dir={(ROOT / f.split('=', 1)[1]).resolve()}"
             if f.startswith("--ServerApp.root_dir=") else f for f in _make_lab_flags()]
    assert f"--ServerApp.root_dir={ROOT}" in flags, flags
    if os.geteuid() == 0 and "--allow-root" not in flags:
        flags.append("--allow-root")
    command = [str(Path(sys.executable).with_name("jupyter")), "lab", *flags, "--no-browser",
               "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={token}"]
    log = tmp / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = Lab(f"http://127.0.0.1:{port}", token, log, process)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"jupyter lab exited ({process.returncode})" \
                + server.tail()
            try:
                server.api("GET", "/api/status", timeout=2)
                break
            except (OSError, ValueError):
                assert time.monotonic() < deadline, "no answer from /api/status in 60 s" \
                    + server.tail()
                time.sleep(0.25)
        yield server
    finally:
        _stop(server)


class KernelSocket:
    """The kernel's websocket on the server (`/api/kernels/<id>/channels`), as Lab uses it.

    websocket-client (a jupyter_server dependency) rather than jupyter_client's
    KernelClient: the latter speaks ZMQ to the kernel directly, past the server's
    websocket, which is the part Lab depends on.
    """

    def __init__(self, lab: Lab, kernel_id: str):
        import websocket

        self.lab, self.session = lab, uuid.uuid4().hex
        url = lab.url.replace("http", "ws", 1)
        self.ws = websocket.create_connection(
            f"{url}/api/kernels/{kernel_id}/channels?session_id={self.session}",
            header=[f"Authorization: token {lab.token}"], timeout=10)

    def close(self) -> None:
        self.ws.close()

    def send(self, msg_type: str, content: dict, channel: str = "shell") -> str:
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "msg_type": msg_type, "username": "test",
                  "session": self.session, "version": "5.3",
                  "date": datetime.now(UTC).isoformat()}
        self.ws.send(json.dumps({"header": header, "parent_header": {}, "metadata": {},
                                 "content": content, "channel": channel, "buffers": []}))
        return msg_id

    def _receive(self, deadline: float, what: str) -> dict:
        import websocket
        from jupyter_server.services.kernels.connection import base

        left = deadline - time.monotonic()
        assert left > 0, f"timed out waiting for {what}" + self.lab.tail()
        self.ws.settimeout(left)
        try:
            frame = self.ws.recv()
        except websocket.WebSocketTimeoutException:
            raise AssertionError(f"timed out waiting for {what}" + self.lab.tail()) from None
        if isinstance(frame, bytes):  # a message with binary buffers
            return base.deserialize_binary_message(frame)
        return json.loads(frame)

    def request(self, msg_type: str, content: dict, *, timeout: float, reply: bool = True,
                what: str = "") -> tuple[dict | None, list[dict]]:
        """Send a shell request; its reply and its iopub messages, up to the kernel's idle."""
        msg_id = self.send(msg_type, content)
        deadline = time.monotonic() + timeout
        answer, iopub, idle = None, [], False
        while (reply and answer is None) or not idle:
            msg = self._receive(deadline, what or msg_type)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["channel"] == "shell":
                answer = msg
            elif msg["channel"] == "iopub":
                iopub.append(msg)
                idle = idle or (msg["msg_type"] == "status"
                                and msg["content"]["execution_state"] == "idle")
        return answer, iopub


def _exercise_with_browser(folder: Path) -> Path | None:
    """The first exercise (sorted) that calls the slice browser before its first TODO."""
    for path in sorted(folder.glob("*.ipynb")):
        code = [c.source for c in nbformat.read(path, as_version=4).cells
                if c.cell_type == "code"]
        todo = next((i for i, src in enumerate(code) if TODO in src), len(code))
        if any(BROWSER_CALL in src for src in code[:todo]):
            return path
    return None


def _widget_tree(model_id: str, states: dict) -> list[str]:
    """A widget's model id and those of its children, recursively."""
    ids = [model_id]
    for child in states[model_id].get("children", []):
        ids += _widget_tree(child.removeprefix("IPY_MODEL_"), states)
    return ids


def _output_pngs(iopub: list[dict], comm_id: str) -> list[str]:
    """The PNGs an Output widget was sent (its `outputs` in comm updates)."""
    return [out["data"]["image/png"] for m in iopub
            if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id
            for out in m["content"]["data"].get("state", {}).get("outputs", [])
            if "image/png" in out.get("data", {})]


def _error_text(reply: dict) -> str:
    content = reply["content"]
    trace = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(content.get("traceback", [])))
    return f"{content.get('ename')}: {content.get('evalue')}\n{trace}"


def test_an_exercise_runs_to_its_first_todo_and_shows_the_slice_browser(lab):
    """The server's contents, sessions and kernel websocket, as Lab uses them."""
    exercise = _exercise_with_browser(ROOT / "notebooks")
    assert exercise is not None, (f"no exercise in notebooks/ calls {BROWSER_CALL}...) before "
                                  "its first TODO (after editing a solution: mbl-seg exercises)")
    path = exercise.relative_to(ROOT).as_posix()
    model = lab.api("GET", f"/api/contents/{path}?type=notebook&content=1")
    assert model["type"] == "notebook" and model["path"] == path
    cells = [c["source"] for c in model["content"]["cells"] if c["cell_type"] == "code"]
    cells = [src if isinstance(src, str) else "".join(src) for src in cells]
    todo = next(i for i, src in enumerate(cells) if TODO in src)
    cells = cells[:todo]
    browser_cell = next(i for i, src in enumerate(cells) if BROWSER_CALL in src)
    kernel_name = model["content"]["metadata"]["kernelspec"]["name"]

    session = lab.api("POST", "/api/sessions", {"path": path, "type": "notebook",
                                                "name": exercise.name,
                                                "kernel": {"name": kernel_name}})
    kernel = None
    try:
        kernel = KernelSocket(lab, session["kernel"]["id"])
        info, _ = kernel.request("kernel_info_request", {}, timeout=60, what="the kernel")
        assert info["content"]["status"] == "ok"
        messages = []
        for i, code in enumerate(cells):
            reply, iopub = kernel.request(
                "execute_request",
                {"code": code, "silent": False, "store_history": True, "allow_stdin": False,
                 "stop_on_error": True,
                 "user_expressions": {"prefix": "__import__('sys').prefix"}},
                timeout=60, what=f"cell {i} of {path}")
            assert reply["content"]["status"] == "ok", \
                f"{path}, code cell {i} failed:\n{code}\n{_error_text(reply)}" + lab.tail()
            messages.append(iopub)
        prefix = reply["content"]["user_expressions"]["prefix"]["data"]["text/plain"]
        assert ast.literal_eval(prefix) == sys.prefix, "the kernel is not this environment's"

        iopub = messages[browser_cell]
        opens = {m["content"]["comm_id"]: m["content"] for m in iopub
                 if m["msg_type"] == "comm_open"}
        widgets = {k: c["data"]["state"] for k, c in opens.items()
                   if c["target_name"] == "jupyter.widget"}
        assert widgets, f"no jupyter.widget comm_open from {cells[browser_cell]!r}"
        assert all("_model_name" in state for state in widgets.values())
        views = [m["content"]["data"][WIDGET_VIEW]["model_id"] for m in iopub
                 if m["msg_type"] in ("execute_result", "display_data")
                 and WIDGET_VIEW in m["content"]["data"]]
        assert views, f"the slice browser cell shows no widget view: {cells[browser_cell]!r}"
        assert widgets[views[-1]]["_model_name"] == "VBoxModel"
        tree = {k: widgets[k] for k in _widget_tree(views[-1], widgets)}
        slider = next(k for k, s in tree.items()
                      if s["_model_name"] == "IntSliderModel" and s["description"] == "section")
        output = next(k for k, s in tree.items() if s["_model_name"] == "OutputModel")
        first = _output_pngs(iopub, output)
        assert first, "the slice browser's Output widget was sent no image"

        # move the slider as Lab does (a comm update): the kernel draws the new section
        value = min(tree[slider]["value"] + 5, tree[slider]["max"])
        assert value != tree[slider]["value"]
        _, moved = kernel.request("comm_msg", {"comm_id": slider, "data": {
            "method": "update", "state": {"value": value}, "buffer_paths": []}},
            timeout=30, reply=False, what="the redraw after moving the slider")
        after = _output_pngs(moved, output)
        assert after, "moving the slider sent no new image" + lab.tail()
        assert after[-1] != first[-1], "the section did not change with the slider"
    finally:
        if kernel is not None:
            kernel.close()
        lab.api("DELETE", f"/api/sessions/{session['id']}")


@pytest.fixture(scope="module")
def chromium():
    """Debian's chromium and the playwright package, or a skip (a failure in CI)."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install playwright)")
    if missing:
        reason = "the browser test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(reason + "; CI must run it (.ci/run installs chromium)")
        pytest.skip(reason)
    return CHROMIUM


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _wait(check, timeout: float, what: str, detail=lambda: ""):
    """Poll check() until it returns something true; fail with `what` after timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{detail()}")
        time.sleep(0.25)


def _png_spread(png: bytes) -> float:
    """The standard deviation of a PNG's pixels (0 for a blank image)."""
    import matplotlib.image

    return float(np.std(matplotlib.image.imread(io.BytesIO(png), format="png")))


# The prompts of all code cells of the open notebook: "[3]:", "[*]:" or "[ ]:".
PROMPTS = """() => [...document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')]
    .map(e => e.textContent.trim())"""


def test_a_solution_shows_a_working_slice_browser_in_chromium(chromium, lab, tmp_path):
    """Run All in Lab, then the browser's image is drawn and its slider draws another."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    notebook = ROOT / "solutions" / "00_setup_and_data.ipynb"
    original = notebook.read_bytes()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{lab.url}/lab/tree/{notebook.relative_to(ROOT).as_posix()}"
                      f"?token={lab.token}")

            def state():
                prompts = page.evaluate(PROMPTS)
                return f"\nprompts: {prompts}" + lab.tail(15)

            indicator = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) "
                                     ".jp-Notebook-ExecutionIndicator")
            _wait(lambda: len(page.evaluate(PROMPTS)) > 0, 60, "the notebook to open", state)
            _wait(lambda: indicator.get_attribute("data-status") == "idle", 60,
                  "the kernel to start", state)
            # the solution comes with outputs and execution counts: clear them, so that
            # what follows was drawn by this run
            page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").click()
            for menu, item in (("Edit", "Clear Outputs of All Cells"), ("Run", "Run All Cells")):
                page.locator(".lm-MenuBar-item", has_text=menu).click()
                page.locator(".lm-Menu-item", has=page.locator(
                    ".lm-Menu-itemLabel", has_text=re.compile(f"^{item}$"))).click()
                if item.startswith("Clear"):
                    _wait(lambda: all(p == "[ ]:" for p in page.evaluate(PROMPTS)), 10,
                          "the outputs to be cleared", state)
            _wait(lambda: all(re.fullmatch(r"\[\d+\]:", p) for p in page.evaluate(PROMPTS))
                  and indicator.get_attribute("data-status") == "idle", 90,
                  "every cell to run", state)

            section = page.locator(".widget-slider").filter(
                has=page.get_by_text("section", exact=True))
            assert section.count() == 1, f"{section.count()} section sliders on the page"
            box = page.locator(".widget-vbox").filter(has=section).last
            image = box.locator(".widget-output img")
            assert image.count() == 1, "the slice browser shows no image"
            image.scroll_into_view_if_needed()

            def settled(old=None):
                """The image's src once loaded and unchanged for 0.5 s with the kernel idle."""
                src = image.get_attribute("src")
                if src == old or indicator.get_attribute("data-status") != "idle":
                    return None
                time.sleep(0.5)
                loaded = image.evaluate("img => img.complete && img.naturalWidth > 0")
                return src if loaded and image.get_attribute("src") == src else None

            def shoot(name: str) -> bytes:
                """Screenshots of the image and of the whole browser; the image's PNG."""
                def attempt():
                    try:  # the kernel may still replace the image (a late redraw): again
                        box.screenshot(path=tmp_path / f"slice_browser_widget_{name}.png")
                        return image.screenshot(path=tmp_path / f"slice_browser_{name}.png")
                    except PlaywrightError:
                        return None
                return _wait(attempt, 15, f"a screenshot of the image {name}")

            before_src = _wait(settled, 10, "the image to load", state)
            assert base64.b64decode(before_src.split(",", 1)[1])[:4] == b"\x89PNG", \
                f"not the kernel's PNG: {before_src[:60]}"
            size = image.bounding_box()
            assert size and size["width"] > 100 and size["height"] > 100, size
            before = shoot("before")
            assert _png_spread(before) > 0.01, "the section drawn is blank"

            readout = section.locator(".widget-readout")
            start = int(readout.inner_text())
            handle = section.locator(".noUi-handle")
            handle.focus()
            for _ in range(3):
                handle.press("ArrowRight")
            _wait(lambda: readout.inner_text().strip() == str(start + 3), 10,
                  f"the slider to read {start + 3}", lambda: f" (reads {readout.inner_text()})")
            # each step is a change (continuous_update=False): the kernel draws three times
            _wait(lambda: settled(before_src), 30, "the kernel to draw the new section", state)
            after = shoot("after")
            assert after != before, "the image looks the same after the move"
            assert _png_spread(after) > 0.01, "the new section drawn is blank"
        except BaseException:
            try:
                page.screenshot(path=tmp_path / "page_on_failure.png", full_page=True)
            except PlaywrightError:
                pass
            print(f"screenshots in {tmp_path}")
            raise
        finally:
            browser.close()
            changed = notebook.read_bytes() != original
            if changed:
                notebook.write_bytes(original)
        assert not changed, f"Lab saved {notebook.name} during the test (restored)"
