"""Sphinx configuration for the order_updates documentation.

autodoc imports the package, which needs a configured Django. The docs configure
a minimal one of their own, so building them needs only the package and its
``docs`` extra (``pip install -e ".[docs]"``): no database, no test settings.
"""

import sys
from pathlib import Path

import django
from django.conf import settings
from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
if not settings.configured:
    settings.configure(
        INSTALLED_APPS=[
            # For autodoc of order_updates.admin (its classes register on the site).
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "order_updates",
        ],
        # autodoc only imports the models, never queries them: any installed
        # model serves as the order model their foreign keys point at.
        ORDER_UPDATES_ORDER_MODEL="auth.User",
        USE_TZ=True,
        LANGUAGE_CODE="en",
    )
django.setup()

import order_updates  # noqa: E402

project = "order_updates"
author = "order_updates contributors"
copyright = "order_updates contributors"
release = order_updates.__version__
version = ".".join(release.split(".")[:2])

extensions = ["sphinx.ext.autodoc"]
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_theme_options = {
    "description": "Keep shoppers informed about their orders.",
    "fixed_sidebar": True,
}

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True


class DefaultPipelineTable(Directive):
    """``.. default-pipeline::`` renders pipeline.DEFAULT_PIPELINE as a table.

    Generated from the code at build time, so the table cannot drift from it.
    """

    has_content = False

    def run(self):
        from django.utils import translation

        from order_updates.pipeline import DEFAULT_PIPELINE, Pipeline

        pipeline = Pipeline.from_config(DEFAULT_PIPELINE)
        stage_labels = {stage.code: str(stage.label) for stage in pipeline.stages}
        header = ["Code", "Label", "Stage", "May move to", "Terminal"]
        rows = []
        with translation.override("en"):
            for status in pipeline:
                stage = (
                    "%s (%s)" % (status.stage, stage_labels[status.stage])
                    if status.stage
                    else "— (off track)"
                )
                rows.append(
                    [
                        [nodes.literal(text=status.code)],
                        [nodes.Text(str(status.label))],
                        [nodes.Text(stage)],
                        [
                            child
                            for index, code in enumerate(status.transitions)
                            for child in (
                                ([nodes.Text(", ")] if index else [])
                                + [nodes.literal(text=code)]
                            )
                        ]
                        or [nodes.Text("—")],
                        [nodes.Text("yes" if status.terminal else "no")],
                    ]
                )
            stages = nodes.paragraph("", "The stages, in progress order: ")
            for index, stage in enumerate(pipeline.stages):
                if index:
                    stages += nodes.Text(", ")
                stages += nodes.literal(text=stage.code)
                stages += nodes.Text(" (%s)" % stage.label)
            stages += nodes.Text(".")
        return [_table(header, rows, widths=[16, 16, 24, 34, 10]), stages]


class DefaultNotificationsTable(Directive):
    """``.. default-notifications::`` renders which event triggers which type.

    Built from notification_types.DEFAULT_EVENT_NOTIFICATIONS and DEFAULT_TYPES at
    build time, so the table cannot drift from the code.
    """

    has_content = False

    def run(self):
        from django.utils import translation

        from order_updates.notifications.types import (
            CATEGORIES,
            DEFAULT_EVENT_NOTIFICATIONS,
            DEFAULT_TYPES,
        )

        types = {item.code: item for item in DEFAULT_TYPES}
        header = ["Event", "Notification type", "Label", "Category", "Default"]
        rows = []
        with translation.override("en"):
            for key, code in DEFAULT_EVENT_NOTIFICATIONS.items():
                item = types[code]
                category = "%s (%s)" % (item.category, CATEGORIES[item.category])
                default = [
                    nodes.Text("on") if item.enabled else nodes.strong(text="off")
                ]
                if not item.coalesce:
                    default.append(nodes.Text(", never coalesced"))
                rows.append(
                    [
                        [nodes.literal(text=key)],
                        [nodes.literal(text=code)],
                        [nodes.Text(str(item.label))],
                        [nodes.Text(category)],
                        default,
                    ]
                )
        triggered = set(DEFAULT_EVENT_NOTIFICATIONS.values())
        unmapped = [code for code in types if code not in triggered]
        result = [_table(header, rows, widths=[24, 20, 30, 22, 14])]
        if unmapped:
            result.append(
                self.state.document.reporter.warning(
                    "Notification types no event triggers: %s" % ", ".join(unmapped),
                    line=self.lineno,
                )
            )
        return result


class CarrierTable(Directive):
    """``.. carrier-table::`` renders the built-in carriers from the registry."""

    has_content = False

    def run(self):
        from django.utils import translation

        from order_updates.carriers.registry import BUILTIN_CARRIERS

        header = ["Code", "Name", "Numbers", "Tracking page"]
        rows = []
        with translation.override("en"):
            for carrier in BUILTIN_CARRIERS:
                checked = any(p.check is not None for p in carrier.patterns)
                numbers = (
                    "checked"
                    if checked
                    else ("shape only" if carrier.patterns else "not detected")
                )
                host = (
                    carrier.tracking_url.split("/")[2] if carrier.tracking_url else ""
                )
                rows.append(
                    [
                        [nodes.literal(text=carrier.code)],
                        [nodes.Text(str(carrier.name))],
                        [nodes.Text(numbers)],
                        [nodes.Text(host)],
                    ]
                )
        return [_table(header, rows, widths=[22, 26, 18, 34])]


def _table(header, rows, widths):
    table = nodes.table()
    group = nodes.tgroup(cols=len(header))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    group += head
    head += _row([[nodes.Text(text)] for text in header])
    body = nodes.tbody()
    group += body
    for row in rows:
        body += _row(row)
    return table


def _row(cells):
    row = nodes.row()
    for children in cells:
        entry = nodes.entry()
        entry += nodes.paragraph("", "", *children)
        row += entry
    return row


class SettingDefault(SphinxDirective):
    """``.. setting-default:: KEY`` renders ``conf.DEFAULTS[KEY]`` from the code.

    It also records the key as documented: the build warns (and with ``-W`` fails)
    for a key of ``conf.DEFAULTS`` that no page documents, or a documented key that
    no longer exists.
    """

    required_arguments = 1

    def run(self):
        from order_updates.conf import DEFAULTS

        key = self.arguments[0]
        if key not in DEFAULTS:
            return [
                self.state.document.reporter.warning(
                    "ORDER_UPDATES[%r] is not a setting (not in conf.DEFAULTS)." % key,
                    line=self.lineno,
                )
            ]
        _documented_settings(self.env)[key] = self.env.docname
        paragraph = nodes.paragraph("", "Default: ")
        paragraph += nodes.literal(text=repr(DEFAULTS[key]))
        return [paragraph]


def _documented_settings(env):
    if not hasattr(env, "order_updates_settings"):
        env.order_updates_settings = {}
    return env.order_updates_settings


def _purge_settings(app, env, docname):
    documented = _documented_settings(env)
    for key in [key for key, doc in documented.items() if doc == docname]:
        del documented[key]


def _merge_settings(app, env, docnames, other):
    _documented_settings(env).update(_documented_settings(other))


def _check_settings(app, env):
    from order_updates.conf import DEFAULTS

    missing = sorted(set(DEFAULTS) - set(_documented_settings(env)))
    if missing:
        logging.getLogger(__name__).warning(
            "Settings without docs (add a '.. setting-default::' for each): %s",
            ", ".join(missing),
        )


def setup(app):
    app.add_directive("default-pipeline", DefaultPipelineTable)
    app.add_directive("default-notifications", DefaultNotificationsTable)
    app.add_directive("carrier-table", CarrierTable)
    app.add_directive("setting-default", SettingDefault)
    app.connect("env-purge-doc", _purge_settings)
    app.connect("env-merge-info", _merge_settings)
    app.connect("env-check-consistency", _check_settings)
    return {"parallel_read_safe": True}
