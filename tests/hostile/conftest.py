"""Hostile-input suites: a summary line per category (cases, clean) and the worst case's peak RSS."""

from __future__ import annotations

import pytest

from tests.hostile.forked import Tally, parent_rss_mb


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not Tally.categories:
        return
    terminalreporter.section("hostile input")
    for category, (cases, clean) in sorted(Tally.categories.items()):
        terminalreporter.write_line(f"{category}: {cases} cases, {clean} clean")
    peak, name = Tally.worst
    terminalreporter.write_line(f"worst peak RSS {peak:.0f} MB ({name}); test process {parent_rss_mb():.0f} MB")
