"""What the journal says of each DA-03 move's outcome (utilhub.packs.dacs.delivery): a file that reached upload/
names where and its size; one that did not names what an operator does."""

from __future__ import annotations

from utilhub.packs.dacs.delivery import outcome_reason
from utilhub.packs.dacs.transfer import MoveResult
from utilhub.platform.journal import COMPLETED, FAILED, normalised


def test_a_moved_file_names_its_copy_and_size_and_is_completed() -> None:
    result = MoveResult("extract/a.tsv", "upload/a.tsv", "MOVED", 42, "abc").as_dict()
    assert (outcome_reason(result), normalised(result["outcome"])) == ("upload/a.tsv, 42 bytes", COMPLETED)


def test_a_file_deleted_before_its_move_names_the_version_to_restore_and_is_failed() -> None:
    result = MoveResult("extract/a.tsv", "upload/a.tsv", "DELETED_UNMOVED", 42, version="v7").as_dict()
    assert outcome_reason(result) == "deleted under extract/ before it was moved: restore its version v7 under extract/"
    assert normalised(result["outcome"]) == FAILED


def test_a_file_the_bucket_never_held_is_failed_with_why() -> None:
    result = MoveResult("extract/a.tsv", "upload/a.tsv", "NEVER_EXISTED").as_dict()
    assert (outcome_reason(result), normalised(result["outcome"])) == ("the bucket never held it: a notification no file explains", FAILED)
