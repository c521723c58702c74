"""``crm report``: tables, CSV, and one-line errors for bad filters."""

from __future__ import annotations

import csv
import io


def test_report_prints_a_table_and_csv_blocks(invoke):
    invoke.ok("add", "lead", "Сайт для «Ромашки»", "--budget", "1 500 000", "--source", "LinkedIn")
    table = invoke.ok("report", "funnel")
    assert "Funnel: Продажи 2.0" in table and "weighted RUB" in table and "1 500 000 ₽" in table
    out = invoke.ok("report", "sources", "--csv")
    blocks = out.strip().split("\n\n")
    assert len(blocks) == 4  # channel, site, territory, Unsorted
    rows = list(csv.reader(io.StringIO(blocks[0])))
    assert rows[1] == ["channel", "leads", "won", "won value RUB"]
    assert ["LinkedIn", "1", "0", "0"] in rows


def test_bad_filters_are_one_line_errors_with_their_exit_codes(crm_cli):
    cases = [
        (["report", "funnel", "--period", "next-week"], 5, "is not a period"),
        (["report", "losses", "--from", "31.02.2026"], 5, "is not a date"),
        (["report", "funnel", "--pipeline", "nope"], 3, "No pipeline"),
        (["report", "activity", "--responsible", "Никто"], 3, "No single user"),
        (["report", "sources", "--tag", "нет-такого"], 3, "No tag"),
        (["report", "funnel", "--json", "--csv"], 5, "choose one output"),
    ]
    for args, code, words in cases:
        result = crm_cli(*args)
        assert result.returncode == code, (args, result.stderr)
        assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr
