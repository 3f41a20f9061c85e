"""Mailchimp Marketing API 3.0's read endpoints: lists, members, campaigns, with every filter.

Parameters are the documented ones (the official client's operations send exactly these);
each is honoured or refused with a 400 naming it, never silently ignored. Unknown
parameters are ignored, as Mailchimp ignores them.
https://mailchimp.com/developer/marketing/api/lists/ ,
https://mailchimp.com/developer/marketing/api/list-members/ ,
https://mailchimp.com/developer/marketing/api/campaigns/
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from emulators.core import BadRequest, Request, Response
from emulators.mailchimp.data import ALL_STATUSES, MEMBER_STATUSES
from emulators.mailchimp.faults import Problems
from emulators.mailchimp.listings import Listings
from emulators.mailchimp.members import MemberFilter, MemberView, take
from emulators.mailchimp.params import Params, invalid

API_PREFIX = "/3.0"
NOT_FOUND = "The requested resource could not be found."
MEMBER_SORT_FIELDS = ("timestamp_opt", "timestamp_signup", "last_changed")
INTEREST_MATCHES = ("any", "all", "none")
_PAGING = ("fields", "exclude_fields", "count", "offset")
# The query parameters of each endpoint, as Mailchimp documents them.
PARAMETERS: dict[str, tuple[str, ...]] = {
    "ping": (),
    "lists": (
        *_PAGING,
        "before_date_created",
        "since_date_created",
        "before_campaign_last_sent",
        "since_campaign_last_sent",
        "email",
        "sort_field",
        "sort_dir",
        "has_ecommerce_store",
        "include_total_contacts",
    ),
    "list": ("fields", "exclude_fields", "include_total_contacts"),
    "members": (
        *_PAGING,
        "email_type",
        "status",
        "since_timestamp_opt",
        "before_timestamp_opt",
        "since_last_changed",
        "before_last_changed",
        "unique_email_id",
        "vip_only",
        "interest_category_id",
        "interest_ids",
        "interest_match",
        "sort_field",
        "sort_dir",
        "since_last_campaign",
        "unsubscribed_since",
    ),
    "member": ("fields", "exclude_fields"),
    "campaigns": (
        *_PAGING,
        "type",
        "status",
        "before_send_time",
        "since_send_time",
        "before_create_time",
        "since_create_time",
        "list_id",
        "folder_id",
        "member_id",
        "sort_field",
        "sort_dir",
    ),
    "campaign": ("fields", "exclude_fields"),
}


class Routes(Listings, Problems):
    """Dispatches a request to its endpoint and renders the answer."""

    def route(self, request: Request) -> Response:
        try:
            return self._dispatch(request)
        except BadRequest as exc:
            return self.error(exc.status, exc.message, **exc.extra)
        finally:
            self.release(request)

    def _dispatch(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        if not path.startswith(API_PREFIX + "/"):
            raise BadRequest(404, NOT_FOUND)
        if request.method != "GET":
            raise BadRequest(
                405,
                "The requested method and resource are not compatible. See the Allow header "
                "for this resource's available methods.",
            )
        parts = path[len(API_PREFIX) :].strip("/").split("/")
        match parts:
            case ["ping"]:
                return self.ok(request, {"health_status": "Everything's Chimpy!"})
            case ["lists"]:
                return self.list_lists(request)
            case ["lists", list_id]:
                total = Params(request).flag("include_total_contacts")
                return self.ok(request, self.audience(self.list_index(list_id), bool(total)))
            case ["lists", list_id, "members"]:
                return self.list_members(request, self.list_index(list_id))
            case ["lists", list_id, "members", member]:
                return self.get_member(request, self.list_index(list_id), member)
            case ["campaigns"]:
                return self.list_campaigns(request)
            case ["campaigns", campaign_id]:
                return self.ok(request, self.campaign(self.campaign_index(campaign_id)))
        raise BadRequest(404, NOT_FOUND)

    # --- members ---------------------------------------------------------------------------

    def member_filter(self, params: Params, list_no: int) -> MemberFilter:
        """The index-friendly part of a member listing's parameters."""
        status = params.choice("status", ALL_STATUSES)
        since = params.time("since_last_changed")
        if params.flag("since_last_campaign"):
            if status is None:
                raise invalid(
                    "since_last_campaign", "Member status is required to use this filter."
                )
            since = _later(since, self.last_sent(list_no))
        unsubscribed_since = params.time("unsubscribed_since")
        if unsubscribed_since is not None:
            if status != "unsubscribed":
                raise invalid(
                    "unsubscribed_since",
                    "Using any status other than unsubscribed with this filter is not allowed.",
                )
            since = _later(since, unsubscribed_since)
        before = params.time("before_last_changed")
        sort_field = params.choice("sort_field", MEMBER_SORT_FIELDS)
        return MemberFilter(
            # Archived contacts are left out unless asked for by status, as Mailchimp does.
            statuses=(status,) if status else MEMBER_STATUSES,
            since=since,
            before=before,
            opt_since=params.time("since_timestamp_opt"),
            opt_before=params.time("before_timestamp_opt"),
            # Mailchimp leaves the unsorted order open; with an upper bound on last_changed
            # this emulator serves last_changed order, where the bound cuts a prefix.
            by_time=sort_field == "last_changed" or before is not None,
        )

    def member_test(self, params: Params) -> Any:
        """The per-record filters (no index serves them), as one test, or None."""
        email_type = params.choice("email_type", ("html", "text"))
        unique_id = params.text("unique_email_id")
        vip_only = params.flag("vip_only")
        interests = [params.text(n) for n in ("interest_category_id", "interest_ids")]
        match = params.choice("interest_match", INTEREST_MATCHES)
        if any(interests) or match:
            for name, value in zip(
                ("interest_category_id", "interest_ids", "interest_match"),
                (*interests, match),
                strict=True,
            ):
                if not value:
                    raise invalid(name, "Interest filters need a category, ids and a match.")
        tests = []
        if email_type is not None:
            tests.append(lambda i: self.member_email_type(i) == email_type)
        if unique_id is not None:
            tests.append(lambda i: self.unique_email_id(i) == unique_id)
        if vip_only:
            tests.append(self.member_vip)
        if match in ("any", "all"):
            tests.append(lambda i: False)  # no member belongs to an interest group here
        if not tests:
            return None
        return lambda i: all(test(i) for test in tests)

    def list_members(self, request: Request, list_no: int) -> Response:
        params = Params(request)
        count, offset = params.paging()
        view = MemberView(self, list_no, self.member_filter(params, list_no))
        test = self.member_test(params)
        descending = params.descending()
        if test is not None:
            matches = [i for i in view.iterate(0) if test(i)]
            total = len(matches)
            picked = (matches[::-1] if descending else matches)[offset : offset + count]
        elif descending:
            total = view.total()
            # Descending pages are ascending slices read from the other end.
            start = max(total - offset - count, 0)
            picked = list(take(view.iterate(start), max(total - offset - start, 0)))
            picked.reverse()
        else:
            total = view.total()
            picked = list(take(view.iterate(offset), count))
        ds, n = self.members, self.n_lists
        data = [self.member(i, list_no, i // n) for i in picked if request.keeps(ds, i)]
        self.count_served("members", len(data))
        list_id = self.list_id(list_no)
        return self.ok(
            request,
            {
                "members": data,
                "list_id": list_id,
                "total_items": self.shown(request, total),
                "_links": self._links(f"/lists/{list_id}/members", "Lists/Members/Collection"),
            },
        )

    def get_member(self, request: Request, list_no: int, key: str) -> Response:
        """One member by subscriber hash, email address or contact_id (archived ones too)."""
        key = unquote(key).lower()  # an email address arrives percent-encoded
        view = MemberView(self, list_no, MemberFilter(ALL_STATUSES))
        n = self.n_lists
        for index in view.iterate(0):
            body = self.member(index, list_no, index // n)
            if key in (body["id"], body["email_address"].lower(), body["contact_id"]):
                return self.ok(request, body)
        raise BadRequest(404, NOT_FOUND)


def _later(a: int | None, b: int | None) -> int | None:
    if a is None or b is None:
        return a if b is None else b
    return max(a, b)
