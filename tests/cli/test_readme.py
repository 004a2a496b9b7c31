"""The README's first two commands are promises: keep them in step with CI and the package."""

import re
import subprocess
import sys

from ..conftest import REPO


def _readme_commands() -> list[str]:
    return re.findall(r"```bash\n(.+?)\n```", (REPO / "README.md").read_text(), flags=re.S)[:2]


def test_ci_runs_the_readme_test_command():
    install_and_run, install_and_test = _readme_commands()
    assert install_and_run.rstrip().endswith("&& emotui")
    assert "pip install torch==2.13.0" in install_and_run.replace("-q ", "")
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert install_and_test in ci


def test_help_is_fast_and_imports_no_heavy_library():
    code = "import sys; from emotui.cli import cli; heavy = {'torch', 'mediapipe', 'cv2', 'textual', 'pandas'}; print(sorted(heavy & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    help_text = subprocess.run([sys.executable, "-m", "emotui", "--help"], capture_output=True, text=True, check=True).stdout
    assert "Usage: emotui" in help_text
