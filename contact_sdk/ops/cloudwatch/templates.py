"""Where the dashboard and alarm templates live, and loading them.

The templates are kept once, at the repository root (``dashboards/``, ``alarms/``), because users
read and import them from there. They are not copied into the package: an editable install or a
checkout finds them beside the ``contact_sdk`` directory. Anywhere else (a wheel, a Lambda bundle,
another checkout's templates), set ``CONTACT_SDK_TEMPLATES_DIR`` to the directory that holds
``dashboards/`` and ``alarms/``.

Resolution order: explicit argument, then ``CONTACT_SDK_TEMPLATES_DIR``, then the repository root.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from contact_sdk.errors import ConfigurationError

__all__ = [
    "ALARMS_FILE",
    "CONSUMER_ALARMS_FILE",
    "CONSUMER_METRIC_FILTERS_FILE",
    "DASHBOARD_FILE",
    "DEAD_LETTER_QUEUE_ALARMS_FILE",
    "DEAD_LETTER_QUEUE_WIDGETS_FILE",
    "FUNCTION_ALARMS_FILE",
    "METRIC_FILTERS_FILE",
    "OUTBOX_ALARMS_FILE",
    "OUTBOX_WIDGETS_FILE",
    "TEMPLATES_DIR_VARIABLE",
    "load_template",
    "templates_root",
]

#: Environment variable naming a directory that holds ``dashboards/`` and ``alarms/``.
TEMPLATES_DIR_VARIABLE = "CONTACT_SDK_TEMPLATES_DIR"

DASHBOARD_FILE = "dashboards/email-service.json"
OUTBOX_WIDGETS_FILE = "dashboards/email-service.outbox.json"
DEAD_LETTER_QUEUE_WIDGETS_FILE = "dashboards/email-service.dead-letter-queue.json"
ALARMS_FILE = "alarms/email-service.json"
DEAD_LETTER_QUEUE_ALARMS_FILE = "alarms/dead-letter-queue.json"
OUTBOX_ALARMS_FILE = "alarms/outbox.json"
METRIC_FILTERS_FILE = "alarms/lambda-timeout-metric-filters.json"
FUNCTION_ALARMS_FILE = "alarms/lambda-functions.json"
CONSUMER_ALARMS_FILE = "alarms/outbox-consumer.json"
CONSUMER_METRIC_FILTERS_FILE = "alarms/outbox-consumer-timeout-metric-filters.json"

_REPOSITORY_ROOT = Path(__file__).resolve().parents[3]


def templates_root(directory: str | Path | None = None, *, environ: Mapping[str, str] | None = None) -> Path:
    """The directory holding ``dashboards/`` and ``alarms/``.

    Raises :class:`~contact_sdk.errors.ConfigurationError` naming every place looked at when
    none holds the dashboard template.
    """
    env = os.environ if environ is None else environ
    candidates: list[Path] = []
    if directory is not None:
        candidates.append(Path(directory))
    elif env.get(TEMPLATES_DIR_VARIABLE):
        candidates.append(Path(env[TEMPLATES_DIR_VARIABLE]))
    else:
        candidates.append(_REPOSITORY_ROOT)
    for candidate in candidates:
        if (candidate / DASHBOARD_FILE).is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise ConfigurationError(
        f"CloudWatch templates not found (looked for {DASHBOARD_FILE} in {looked}); "
        f"install contact-sdk from a checkout (pip install -e .) or set {TEMPLATES_DIR_VARIABLE}"
    )


def load_template(relative_path: str, *, root: str | Path | None = None) -> Any:
    """Parse one template file (a path relative to :func:`templates_root`) as JSON."""
    path = templates_root(root) / relative_path
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"CloudWatch template missing: {path}") from None
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"CloudWatch template {path} is not valid JSON: {exc}") from exc
