"""The audience and campaign listings, with their documented filters and orders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from emulators.core import BadRequest, Request, Response
from emulators.mailchimp.data import (
    CAMPAIGN_FILTER_STATUSES,
    CAMPAIGN_SORT_FIELDS,
    CAMPAIGN_TYPES,
    MAX_SEND_DELAY,
    MEMBER_STATUSES,
)
from emulators.mailchimp.fields import select_fields
from emulators.mailchimp.members import MemberFilter, MemberView
from emulators.mailchimp.params import Params
from emulators.mailchimp.records import Records

NOT_FOUND = "The requested resource could not be found."
RESPONSE_JSON = "application/json; charset=utf-8"


def _in_window(when: int | None, since: int | None, before: int | None) -> bool:
    if when is None:
        return since is None and before is None
    return (since is None or when > since) and (before is None or when < before)


class Listings(Records):
    """GET /lists and GET /campaigns (each answer's request id comes from `Problems`)."""

    def ok(self, request: Request, body: dict[str, Any]) -> Response:
        body = select_fields(body, request.arg("fields"), request.arg("exclude_fields"))
        return Response(200, orjson.dumps(body), {"X-Request-Id": self._instance()}, RESPONSE_JSON)

    @staticmethod
    def shown(request: Request, total: int) -> int:
        """`total_items` as a listing fault (empty/partial) makes the vendor report it."""
        return total if request.share >= 1.0 else int(total * request.share)

    # --- lists -----------------------------------------------------------------------------

    def list_lists(self, request: Request) -> Response:
        params = Params(request)
        count, offset = params.paging()
        created = (params.time("since_date_created"), params.time("before_date_created"))
        sent = (params.time("since_campaign_last_sent"), params.time("before_campaign_last_sent"))
        email = params.text("email")
        params.choice("sort_field", ("date_created",))  # creation order is the only order
        descending = params.descending()
        with_store = params.flag("has_ecommerce_store")
        total_contacts = bool(params.flag("include_total_contacts"))
        order = [
            i
            for i in range(self.n_lists)  # audiences are few: a handful at most
            if _in_window(self.list_created(i), *created)
            and (sent == (None, None) or _in_window(self.last_sent(i), *sent))
            and (email is None or self.list_has_email(i, email))
            and not with_store  # no audience here is connected to a store
        ]
        if descending:
            order.reverse()
        ds = self.lists
        page = [i for i in order[offset : offset + count] if request.keeps(ds, i)]
        data = [self.audience(i, total_contacts) for i in page]
        self.count_served("lists", len(data))
        return self.ok(
            request,
            {
                "lists": data,
                "total_items": self.shown(request, len(order)),
                "constraints": {
                    "may_create": False,
                    "max_instances": self.n_lists,
                    "current_total_instances": self.n_lists,
                },
                "_links": self._links("/lists", "Lists/Collection"),
            },
        )

    def list_has_email(self, list_no: int, email: str) -> bool:
        """Whether a list holds a (not archived) member with this address: a scan, as rare."""
        wanted = email.lower()
        view = MemberView(self, list_no, MemberFilter(MEMBER_STATUSES))
        n = self.n_lists
        return any(self.member_email(i, i // n)[2].lower() == wanted for i in view.iterate(0))

    # --- campaigns ---------------------------------------------------------------------------

    def campaign_index(self, campaign_id: str) -> int:
        ds = self.campaigns
        for index in range(ds.count_at(self.clock.now())):
            if self.campaign_id(index) == campaign_id and not ds.is_deleted(index):
                return index
        raise BadRequest(404, NOT_FOUND)

    def campaign_window(self, params: Params) -> tuple[int, int]:
        """Indices whose creation (and, loosely, sending) can fall in the asked windows."""
        ds = self.campaigns
        since_create, before_create = (
            params.time("since_create_time"),
            params.time("before_create_time"),
        )
        since_send, before_send = params.time("since_send_time"), params.time("before_send_time")
        # The creation window is an index range (creation time grows with the index).
        lo = 0 if since_create is None else ds.first_index_created_after(since_create)
        hi = ds.count_at(self.clock.now())
        if before_create is not None:
            hi = min(hi, ds.first_index_created_at_or_after(before_create))
        if since_send is not None:
            lo = max(lo, ds.first_index_created_after(since_send - MAX_SEND_DELAY))
        if before_send is not None:
            hi = min(hi, ds.first_index_created_at_or_after(before_send))
        return lo, hi

    def campaign_test(self, params: Params) -> Callable[[int], bool] | None:
        """The filters that need each campaign's own fields, as one test (None: none asked)."""
        sent = (params.time("since_send_time"), params.time("before_send_time"))
        status = params.choice("status", CAMPAIGN_FILTER_STATUSES)
        kind = params.choice("type", CAMPAIGN_TYPES)
        list_id = params.text("list_id")
        folder_id = params.text("folder_id")
        member_id = params.text("member_id")
        if sent == (None, None) and not any((status, kind, list_id, folder_id, member_id)):
            return None
        reached = self.member_lists(member_id) if member_id else {}

        def test(i: int) -> bool:
            # `send_time` is the planned time while a campaign is scheduled, as it shows.
            if sent != (None, None) and not _in_window(self.send_time(i), *sent):
                return False
            if status is not None and self.campaign_status(i) != status:
                return False
            if folder_id is not None:
                return False  # no campaign here is filed in a folder
            if member_id is not None:
                joined = reached.get(self.campaign_list(i))
                sent_at = self.send_time(i) if self.campaign_status(i) == "sent" else None
                if joined is None or sent_at is None or sent_at < joined:
                    return False
            if kind is not None or list_id is not None:
                body = self.campaign(i)
                if kind is not None and body["type"] != kind:
                    return False
                if list_id is not None and body["recipients"]["list_id"] != list_id:
                    return False
            return True

        return test

    def member_lists(self, member_id: str) -> dict[int, int]:
        """The lists a subscriber hash is on, with when it joined each (a scan, as rare)."""
        joined: dict[int, int] = {}
        for list_no in range(self.n_lists):
            view = MemberView(self, list_no, MemberFilter(MEMBER_STATUSES))
            for i in view.iterate(0):
                if self.subscriber_hash(i, i // self.n_lists) == member_id:
                    joined[list_no] = self.members.created_at(i)
        return joined

    def list_campaigns(self, request: Request) -> Response:
        params = Params(request)
        count, offset = params.paging()
        sort_field = params.choice("sort_field", CAMPAIGN_SORT_FIELDS)
        descending = params.descending()
        lo, hi = self.campaign_window(params)
        test = self.campaign_test(params)
        ds = self.campaigns
        if test is None and not ds.deleted and sort_field != "send_time":
            total = max(hi - lo, 0)
            if descending:
                indices = list(range(hi - 1 - offset, max(hi - 1 - offset - count, lo - 1), -1))
            else:
                indices = list(range(lo + offset, min(lo + offset + count, hi)))
        else:
            # Campaigns number in the hundreds: filter the creation window directly. A
            # deleted campaign is gone from the API without a trace.
            matches = [
                i for i in range(lo, hi) if not ds.is_deleted(i) and (test is None or test(i))
            ]
            if sort_field == "send_time":
                matches.sort(key=lambda i: (self.send_time(i) or 0, i))
            if descending:
                matches.reverse()
            total = len(matches)
            indices = matches[offset : offset + count]
        data = [self.campaign(i) for i in indices if request.keeps(ds, i)]
        self.count_served("campaigns", len(data))
        return self.ok(
            request,
            {
                "campaigns": data,
                "total_items": self.shown(request, total),
                "_links": self._links("/campaigns", "Campaigns/Collection"),
            },
        )
