"""The catalog as a plain-text table: entry -> tests that lost points -> the feedback the student reads."""

import textwrap

from .grading import Outcome

MESSAGE_WIDTH = 100


def _row(outcome: Outcome) -> list[str]:
    entry = outcome.entry
    if entry.kind == "mistake":
        caught = ", ".join(outcome.failed) or "NOT CAUGHT"
        message = outcome.first_message.removeprefix("AssertionError: ")
    else:
        caught = "full marks" if not outcome.failed else "LOST: " + ", ".join(outcome.failed)
        message = entry.why if entry.kind == "accepted" else ""
    status = "ok" if not outcome.problems() else "PROBLEM"
    return [status, entry.stage[:2], entry.kind, entry.name, caught, message]


def table(outcomes) -> str:
    """One line per entry (long messages wrapped), then the problems of the entries that misbehave."""
    rows = [_row(outcome) for outcome in outcomes]
    header = ["", "st", "kind", "entry", "tests that lost points", "feedback (first failing test) / why accepted"]
    widths = [max(len(row[i]) for row in rows + [header]) for i in range(5)]
    lines = []
    for row in [header] + rows:
        message = textwrap.wrap(row[5], MESSAGE_WIDTH) or [""]
        lead = "  ".join(cell.ljust(width) for cell, width in zip(row[:5], widths))
        lines.append(f"{lead}  {message[0]}")
        lines += [" " * len(lead) + "  " + more for more in message[1:]]
    for outcome in outcomes:
        for problem in outcome.problems():
            lines.append(f"PROBLEM {outcome.entry.name}: {problem}")
    return "\n".join(lines)


def summary(outcomes, seconds: float) -> str:
    outcomes = list(outcomes)
    mistakes = [o for o in outcomes if o.entry.kind == "mistake"]
    caught = [o for o in mistakes if set(o.failed) == set(o.entry.fails)]
    named = [o for o in caught if not o.problems()]
    correct = [o for o in outcomes if o.entry.kind == "correct"]
    accepted = [o for o in correct if not o.failed and o.score == o.max_score]
    known = [o for o in outcomes if o.entry.kind == "accepted"]
    return (
        f"mistakes caught by the right tests: {len(caught)}/{len(mistakes)}, with feedback naming them: "
        f"{len(named)}/{len(mistakes)}; correct variants with full marks: {len(accepted)}/{len(correct)}; "
        f"known weaknesses documented: {len(known)}; graded in {seconds:.0f} s"
    )
