"""FW-01: the service point an activity names, in the ids of the system it is created in.

An activity names its service point by CCB's id (CCB's and MWM's activities; MWM works CCB's service points).
WAM (v1.9) and ODM (v2.1) keep CCB's service points under ids of their own, given when FW-06 synchronized them
(:mod:`utilhub.packs.field_work.sp_sync`), and the hub cross-references each to CCB's
(``SERVICE_POINT#CCB#<id>`` -> ``link_WAM`` / ``link_ODM``): an activity created there names its service point by
that id, read by key (one strongly consistent read, no scan). CCB and MWM get CCB's id as it came.

A service point FW-06 has not synchronized to the asset system yet has no such id: the create step raises
:class:`ServicePointNotSynchronized`, which the workflow retries as a target down (``field-activity-creation.asl.json``),
so a sync request still on its way is waited for; past the retries the activity ends in ERROR with that reason,
and once the service point is synchronized the activity's resubmission creates it.
"""

from __future__ import annotations

from utilhub.packs.field_work.model import ActivityIn
from utilhub.platform.xref import CrossReferenceStore, SystemId

XREF_ENTITY = "SERVICE_POINT"  # FW-06's cross-reference (sp_sync's ``xref_entity``)
OWN_IDS = frozenset({"WAM", "ODM"})  # the systems that name a service point by an id of their own


class ServicePointNotSynchronized(RuntimeError):
    """The activity's service point has no id yet in the system it is to be created in (FW-06 has not synchronized
    it there): retried by the workflow, an ERROR with this reason past its retries."""


def service_point_in(target: str, activity: ActivityIn, xref: CrossReferenceStore) -> str:
    """The id ``target`` knows the activity's service point by: its own from FW-06's cross-reference for WAM and ODM
    (an activity they sent names it so already), CCB's for CCB and MWM."""
    if target not in OWN_IDS or activity.sourceSystem == target:
        return activity.servicePointId
    found = xref.lookup(XREF_ENTITY, SystemId("CCB", activity.servicePointId), target)
    if found is None:
        raise ServicePointNotSynchronized(f"service point {activity.servicePointId} not yet synchronized to {target} (FW-06)")
    return found
