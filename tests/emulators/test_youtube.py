"""The YouTube emulator over real HTTP: uploads, videos, comments, subscribers, errors, faults."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials
from emulators.server import Emulator, EmulatorServer

DEMO = demo_credentials(["youtube", "stripe"])
ACCESS_TOKEN = DEMO["youtube"]["access_token"]
TOKEN = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
SCALE = {
    "youtube.videos": 120,
    "youtube.comments": 260,
    "youtube.subscribers": 140,
    "stripe.customers": 40,
}


@pytest.fixture(scope="module")
def shared() -> Iterator[EmulatorServer]:
    """One emulator for the tests that only read (each server costs half a second to stop)."""
    server = EmulatorServer(Emulator(seed=42, scale=SCALE)).start()
    yield server
    server.stop()


@pytest.fixture
def server(make_emulator) -> EmulatorServer:
    """A fresh emulator for tests that move the clock or switch faults."""
    return make_emulator(SCALE)


@pytest.fixture
def ctl(server: EmulatorServer) -> EmulatorControl:
    return EmulatorControl(server.url)


def api(server: EmulatorServer, method: str) -> str:
    return f"{server.url}/youtube/youtube/v3/{method}"


def get(
    server: EmulatorServer, method: str, headers: dict[str, str] | None = None, **params: Any
) -> requests.Response:
    return requests.get(
        api(server, method),
        params=params,
        headers=TOKEN if headers is None else headers,
        timeout=10,
    )


def channel(server: EmulatorServer) -> dict[str, Any]:
    body = get(server, "channels", mine="true", part="contentDetails").json()
    return body["items"][0]


def pages(server: EmulatorServer, method: str, **params: Any) -> Iterator[dict[str, Any]]:
    """Every page of a listing, following nextPageToken."""
    token = None
    while True:
        response = get(server, method, **params, **({"pageToken": token} if token else {}))
        assert response.status_code == 200, response.text
        body = response.json()
        yield body
        token = body.get("nextPageToken")
        if not token:
            return


def uploads(server: EmulatorServer, **params: Any) -> list[dict[str, Any]]:
    playlist = channel(server)["contentDetails"]["relatedPlaylists"]["uploads"]
    return [
        item
        for page in pages(
            server, "playlistItems", playlistId=playlist, part="snippet,contentDetails", **params
        )
        for item in page["items"]
    ]


def threads(server: EmulatorServer, **params: Any) -> list[dict[str, Any]]:
    return [
        item
        for page in pages(
            server,
            "commentThreads",
            part="snippet",
            allThreadsRelatedToChannelId=channel(server)["id"],
            **params,
        )
        for item in page["items"]
    ]


def subscribers(server: EmulatorServer, **params: Any) -> list[dict[str, Any]]:
    return [
        item
        for page in pages(server, "subscriptions", part="snippet,subscriberSnippet", **params)
        for item in page["items"]
    ]


def assert_google_error(response: requests.Response, status: int, reason: str) -> None:
    body = response.json()["error"]
    assert response.status_code == status
    assert body["code"] == status
    assert body["message"]
    assert body["errors"][0]["reason"] == reason
    assert body["status"]


def test_uploads_page_to_the_end_newest_first_with_every_video_once(
    shared: EmulatorServer,
) -> None:
    items = uploads(shared, maxResults=50)

    video_ids = [item["contentDetails"]["videoId"] for item in items]
    assert len(video_ids) == 120 == len(set(video_ids))
    published = [item["contentDetails"]["videoPublishedAt"] for item in items]
    assert published == sorted(published, reverse=True)
    assert [item["snippet"]["position"] for item in items] == list(range(120))


def test_videos_list_returns_statistics_as_strings_for_up_to_fifty_ids(
    shared: EmulatorServer,
) -> None:
    ids = [item["contentDetails"]["videoId"] for item in uploads(shared, maxResults=50)]

    body = get(shared, "videos", id=",".join(ids[:50]), part="snippet,statistics").json()
    too_many = get(shared, "videos", id=",".join(ids[:51]), part="snippet")
    unknown = get(shared, "videos", id="AAAAAAAAAAA", part="snippet").json()

    assert [video["id"] for video in body["items"]] == ids[:50]
    assert all(video["statistics"]["viewCount"].isdigit() for video in body["items"])
    assert_google_error(too_many, 400, "invalidParameter")
    assert unknown["items"] == []


def test_comment_threads_page_newest_first_with_every_thread_once(shared: EmulatorServer) -> None:
    items = threads(shared, maxResults=100, order="time")

    ids = [item["id"] for item in items]
    assert len(ids) == 260 == len(set(ids))
    published = [item["snippet"]["topLevelComment"]["snippet"]["publishedAt"] for item in items]
    assert published == sorted(published, reverse=True)


def test_public_subscribers_are_listed_once_in_both_feeds(shared: EmulatorServer) -> None:
    everyone = subscribers(shared, mySubscribers="true", maxResults=50)
    recent = subscribers(shared, myRecentSubscribers="true", maxResults=50)

    ids = [item["id"] for item in everyone]
    assert len(ids) == len(set(ids))
    # Private subscribers are not listed: fewer than the 140 the channel has.
    assert 80 < len(ids) < 140
    assert sorted(ids) == sorted(item["id"] for item in recent)
    published = [item["snippet"]["publishedAt"] for item in recent]
    assert published == sorted(published, reverse=True)
    assert all(item["subscriberSnippet"]["title"] for item in everyone)


def test_people_overlap_with_stripe_customers_by_name(shared: EmulatorServer) -> None:
    customers = requests.get(
        f"{shared.url}/stripe/v1/customers",
        params={"limit": 100},
        headers={"Authorization": f"Bearer {DEMO['stripe']['api_key']}"},
        timeout=10,
    ).json()
    names = {customer["name"] for customer in customers["data"]}

    authors = {
        item["snippet"]["topLevelComment"]["snippet"]["authorDisplayName"]
        for item in threads(shared, maxResults=100)
    }
    subscribed = {
        item["subscriberSnippet"]["title"]
        for item in subscribers(shared, mySubscribers="true", maxResults=50)
    }

    assert authors & names
    assert subscribed & names


@pytest.mark.parametrize(
    ("method", "params", "bad"),
    [
        ("playlistItems", {"part": "snippet"}, ["51", "-1"]),
        ("commentThreads", {"part": "snippet"}, ["101", "0"]),
        ("subscriptions", {"part": "snippet", "mySubscribers": "true"}, ["51"]),
    ],
)
def test_page_sizes_outside_the_documented_range_get_googles_400(
    shared: EmulatorServer, method: str, params: dict[str, str], bad: list[str]
) -> None:
    if method == "playlistItems":
        params = {
            **params,
            "playlistId": channel(shared)["contentDetails"]["relatedPlaylists"]["uploads"],
        }
    if method == "commentThreads":
        params = {**params, "allThreadsRelatedToChannelId": channel(shared)["id"]}

    for value in bad:
        response = get(shared, method, maxResults=value, **params)
        assert_google_error(response, 400, "invalidParameter")
        assert response.json()["error"]["errors"][0]["location"] == "maxResults"


def test_bad_parameters_get_googles_error_body(shared: EmulatorServer) -> None:
    playlist = channel(shared)["contentDetails"]["relatedPlaylists"]["uploads"]

    assert_google_error(get(shared, "playlistItems", playlistId=playlist), 400, "required")
    assert_google_error(
        get(shared, "playlistItems", playlistId=playlist, part="snippet", pageToken="not-a-token"),
        400,
        "invalidPageToken",
    )
    assert_google_error(
        get(shared, "playlistItems", playlistId="UUnope", part="snippet"), 404, "playlistNotFound"
    )
    assert_google_error(
        get(shared, "commentThreads", part="snippet", allThreadsRelatedToChannelId="UCnope"),
        404,
        "channelNotFound",
    )
    assert_google_error(
        get(shared, "subscriptions", part="snippet"), 400, "missingRequiredParameter"
    )


def test_after_the_clock_moves_the_newest_first_feeds_show_new_items_first(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    before_videos = {item["contentDetails"]["videoId"] for item in uploads(server, maxResults=50)}
    before_threads = {item["id"] for item in threads(server, maxResults=100)}
    before_subs = {
        item["id"] for item in subscribers(server, myRecentSubscribers="true", maxResults=50)
    }

    ctl.advance(
        days=10,
        changes={
            "youtube.videos": {"updated": 3, "deleted": 1},
            "youtube.comments": {"deleted": 2},
        },
    )

    videos = uploads(server, maxResults=50)
    new_videos = [
        i["contentDetails"]["videoId"]
        for i in videos
        if i["contentDetails"]["videoId"] not in before_videos
    ]
    assert len(new_videos) == 5  # 0.5 uploads a day
    assert [i["contentDetails"]["videoId"] for i in videos[:5]] == new_videos
    assert len(videos) == 120 + 5 - 1
    after_threads = [item["id"] for item in threads(server, maxResults=100)]
    assert len(after_threads) == 260 + 400 - 2
    assert set(after_threads[:400]).isdisjoint(before_threads)
    recent = [item["id"] for item in subscribers(server, myRecentSubscribers="true", maxResults=50)]
    fresh = [sid for sid in recent if sid not in before_subs]
    assert fresh and recent[: len(fresh)] == fresh


def test_an_updated_video_shows_new_title_and_statistics(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    ids = [item["contentDetails"]["videoId"] for item in uploads(server, maxResults=50)]
    before = {
        v["id"]: v
        for v in get(server, "videos", id=",".join(ids[:50]), part="snippet,statistics").json()[
            "items"
        ]
    }

    ctl.advance(days=1, changes={"youtube.videos": {"updated": 40}})
    after = get(server, "videos", id=",".join(ids[:50]), part="snippet,statistics").json()

    changed = [v for v in after["items"] if v["etag"] != before[v["id"]]["etag"]]
    assert changed
    for video in changed:
        old = before[video["id"]]
        assert video["snippet"]["title"] != old["snippet"]["title"]
        assert int(video["statistics"]["viewCount"]) > int(old["statistics"]["viewCount"])


def test_missing_credentials_get_googles_401(shared: EmulatorServer) -> None:
    response = get(shared, "channels", headers={}, mine="true", part="id")

    assert_google_error(response, 401, "required")
    assert response.json()["error"]["status"] == "UNAUTHENTICATED"


def test_each_fault_renders_in_googles_format(server: EmulatorServer, ctl: EmulatorControl) -> None:
    def channels() -> requests.Response:
        return get(server, "channels", mine="true", part="id")

    ctl.fault("youtube", "lockout", status=401)
    assert_google_error(channels(), 401, "authError")
    ctl.fault("youtube", "lockout", reason="authenticatedUserAccountSuspended")
    assert_google_error(channels(), 403, "authenticatedUserAccountSuspended")
    ctl.fault("youtube", "lockout", reason="accountClosed")
    assert_google_error(channels(), 403, "accountClosed")
    ctl.fault("youtube", "rate_limit", retry_after=7)
    limited = channels()
    assert_google_error(limited, 429, "rateLimitExceeded")
    assert limited.headers["Retry-After"] == "7"
    ctl.fault("youtube", "rate_limit", reason="quotaExceeded")
    quota = channels()
    assert_google_error(quota, 403, "quotaExceeded")
    assert quota.json()["error"]["errors"][0]["domain"] == "youtube.quota"
    ctl.fault("youtube", "outage")
    assert_google_error(channels(), 503, "backendError")
    ctl.fault("youtube", "malformed")
    with pytest.raises(requests.JSONDecodeError):
        channels().json()
    ctl.clear_faults("youtube")
    assert channels().status_code == 200


def test_empty_and_partial_listing_faults_hide_records(
    server: EmulatorServer, ctl: EmulatorControl
) -> None:
    ctl.fault("youtube", "empty")
    assert uploads(server, maxResults=50) == []
    assert threads(server, maxResults=100) == []

    ctl.fault("youtube", "partial", share=0.5)
    partial = len(threads(server, maxResults=100))
    ctl.clear_faults("youtube")

    assert 50 < partial < 210
