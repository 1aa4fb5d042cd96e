import pytest
from llmnotes.claims import ClaimFailed, check, parse_lines


def test_check_prints_a_line_that_parses_back(capsys):
    check("demo/value", measured=0.12345, expect=0.12, rel_tol=0.1, note="a note")
    (result,) = parse_lines(capsys.readouterr().out)
    assert (result.id, result.status, result.measured, result.note) == ("demo/value", "REPRODUCED", "0.123", "a note")


def test_check_raises_when_the_claim_fails():
    with pytest.raises(ClaimFailed, match="demo/x does not hold"):
        check("demo/x", measured=2.0, expect=1.0, rel_tol=0.1)


@pytest.mark.parametrize("compare, measured", [("at_least", 5), ("at_least", 6), ("at_most", 4), ("at_most", 5)])
def test_one_sided_comparisons_hold_on_their_side_of_the_bound(compare, measured):
    check("demo/bound", measured=measured, expect=5, compare=compare)


@pytest.mark.parametrize("compare, measured", [("at_least", 4), ("at_most", 6)])
def test_one_sided_comparisons_fail_on_the_other_side(compare, measured):
    with pytest.raises(ClaimFailed):
        check("demo/bound", measured=measured, expect=5, compare=compare)


def test_not_reproduced_claim_must_actually_fail(capsys):
    check("demo/honest", measured=0.5, expect=0.9, compare="at_least", reproduces=False)
    assert "NOT REPRODUCED" in capsys.readouterr().out
    with pytest.raises(ClaimFailed, match="now holds"):
        check("demo/honest", measured=0.95, expect=0.9, compare="at_least", reproduces=False)


def test_large_and_small_values_print_compactly(capsys):
    check("demo/big", measured=1523.7, expect=100, compare="at_least")
    check("demo/small", measured=1.23e-7, expect=1e-5, compare="at_most")
    out = capsys.readouterr().out
    assert "measured=1.52e3" in out and "measured=1.23e-7" in out


@pytest.mark.parametrize("kwargs,message", [
    (dict(claim_id="NoSlash", measured=1, expect=1), "claim id must look like"),
    (dict(claim_id="a/b", measured=1, expect=1, compare="near"), "compare must be one of"),
    (dict(claim_id="a/b", measured=float("nan"), expect=1), "measured must be a real number"),
    (dict(claim_id="a/b", measured=1, expect=1, note="x | y"), "may not contain '\\|'"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        check(**kwargs)


def test_a_failed_claim_prints_failed_before_raising(capsys):
    with pytest.raises(ClaimFailed):
        check("demo/x", measured=2.0, expect=1.0)
    assert parse_lines(capsys.readouterr().out)[0].status == "FAILED"


def test_record_mode_prints_a_failure_instead_of_raising(capsys, monkeypatch):
    monkeypatch.setenv("LLMNOTES_CLAIMS", "record")
    check("demo/x", measured=2.0, expect=1.0)
    check("demo/honest", measured=0.95, expect=0.9, compare="at_least", reproduces=False)
    assert [r.status for r in parse_lines(capsys.readouterr().out)] == ["FAILED", "FAILED"]
