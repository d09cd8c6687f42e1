"""MD-11: CCB is told of each usage request that ends in ERROR (CCB's bill segment will not get its determinants
from this request), through the sync outcomes' queue to CCB (``syncrequests/outcomes.py``): once per ERROR (the event
id is the request and the time of its transition; a resubmitted request that fails again is a new ERROR), in order
per usage request (its message group), while the template's ``OutcomesToCcb`` names ``usage-requests``. Never lost:
the store's write to ERROR marks the request as owing the notice (``outcomeOwed``), clears the mark once it is queued,
and its release schedule queues again what stayed owed (``UsageRequestStore.tell_owed``).

CCB receives ``PUT {CCB}/usage-requests/{usageRequestId}/status`` with
``{"usageRequestId", "saId", "status": "ERROR", "reason", "at"}``: the usage request's new status, as CCB's own usage
request moves to error when MDM's answer does not come.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel

from utilhub.syncrequests.outcomes import CcbNotice, CcbNotices

FLOW = "usage-requests"  # its name in OutcomesToCcb


class UsageRequestStatus(BaseModel):
    """What CCB receives at ``PUT usage-requests/{usageRequestId}/status``."""

    usageRequestId: str
    saId: str
    status: Literal["ERROR"] = "ERROR"
    reason: str
    at: str


class UsageErrorsToCcb:
    """The usage request store's ``on_error``: queues CCB's notice of each request made ERROR."""

    def __init__(self, notices: CcbNotices) -> None:
        self._notices = notices

    @property
    def enabled(self) -> bool:
        return self._notices.enabled

    @staticmethod
    def event_id(usage_request_id: str, at: str) -> str:
        """The notice's id: the request and the time of its transition to ERROR."""
        return f"{FLOW}#{usage_request_id}#ERROR#{at}"

    def __call__(self, image: dict[str, Any], reason: str, at: str) -> bool:
        """Queue CCB's notice: whether it was (else the store keeps the request owing it, for :meth:`tell_owed`)."""
        status = UsageRequestStatus(usageRequestId=str(image["pk"]), saId=str(image["saId"]), reason=reason, at=at)
        notice = CcbNotice(path=f"usage-requests/{quote(status.usageRequestId, safe='')}/status", body=status.model_dump())
        return self._notices(self.event_id(status.usageRequestId, at), f"{FLOW}#{status.usageRequestId}", notice)
