"""Rendering the default notification templates: time per part, Liquid only.

Renders every default template (each type × channel × part, in English, German
and French) against sample data, many times over, and prints the mean Liquid
render time per part (parsing is cached, as in the worker; CSS inlining is left
out, it is not Liquid's work). Run it before and after a change to the
templating sandbox to see what its checks cost. Times are CPU time of this
process (``time.process_time``), which other load on the machine disturbs less
than the wall clock.

Needs no database server: Django runs on SQLite in memory.
"""

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.pop("DATABASE_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.utils import translation  # noqa: E402

from order_updates.notifications.channels import get_channels  # noqa: E402
from order_updates.notifications.templating.context import (  # noqa: E402
    sample_context,
)
from order_updates.notifications.templating.environment import (  # noqa: E402
    get_environment,
)
from order_updates.notifications.templating.sources import (  # noqa: E402
    file_sources,
)
from order_updates.notifications.types import DEFAULT_TYPES  # noqa: E402

LANGUAGES = ("en", "de", "fr")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "15"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "20"))


def jobs():
    """(language, template, context) for every default part."""
    found = []
    for language in LANGUAGES:
        with translation.override(language):
            for item in DEFAULT_TYPES:
                for channel in get_channels().values():
                    context = sample_context(item.code, channel.name)
                    sources = file_sources(item.code, channel, language)
                    for part, source in sources.items():
                        environment = get_environment(html=part == "html")
                        template = environment.parse_cached(source.text, source.origin)
                        found.append((language, template, context))
    return found


def main():
    """Print the mean render time per part, best of ROUNDS rounds."""
    work = jobs()
    rounds = []
    for _round in range(ROUNDS):
        started = time.process_time()
        for language, template, context in work:
            with translation.override(language):
                for _repeat in range(REPEAT):
                    template.render(**context)
        rounds.append((time.process_time() - started) / (len(work) * REPEAT))
    print(
        "%d parts x %d renders x %d rounds: best %.1f us/part, median %.1f us/part"
        % (
            len(work),
            REPEAT,
            ROUNDS,
            min(rounds) * 1e6,
            statistics.median(rounds) * 1e6,
        )
    )


if __name__ == "__main__":
    main()
