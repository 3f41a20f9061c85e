"""The YouTube emulator honours or refuses every documented parameter, as YouTube does,
and models the daily quota."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from emulators.control import EmulatorControl
from emulators.server import Emulator, EmulatorServer
from tests.emulators.test_youtube import (
    ACCESS_TOKEN,
    SCALE,
    assert_google_error,
    channel,
    get,
    pages,
    threads,
)


@pytest.fixture(scope="module")
def shared() -> Iterator[EmulatorServer]:
    """One emulator for the tests that only read."""
    server = EmulatorServer(Emulator(seed=42, scale=SCALE)).start()
    yield server
    server.stop()


def items(server: EmulatorServer, method: str, **query: Any) -> list[dict[str, Any]]:
    return [item for page in pages(server, method, **query) for item in page["items"]]


def test_a_wrong_token_is_told_apart_from_a_missing_one(shared: EmulatorServer) -> None:
    wrong = get(shared, "channels", {"Authorization": "Bearer ya29.wrong"}, mine="true", part="id")
    missing = get(shared, "channels", {}, mine="true", part="id")
    by_query = get(shared, "channels", {}, mine="true", part="id", access_token=ACCESS_TOKEN)

    assert_google_error(wrong, 401, "authError")
    assert wrong.json()["error"]["status"] == "UNAUTHENTICATED"
    assert wrong.json()["error"]["message"].startswith(
        "Request had invalid authentication credentials."
    )
    assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    assert_google_error(missing, 401, "required")
    assert by_query.status_code == 200  # Google's documented access_token query parameter


def test_unknown_parameters_parts_and_values_are_refused(shared: EmulatorServer) -> None:
    uploads = channel(shared)["contentDetails"]["relatedPlaylists"]["uploads"]

    unknown = get(shared, "playlistItems", playlistId=uploads, part="id", publishedAfter="x")
    part = get(shared, "channels", mine="true", part="id,snippets")
    flag = get(shared, "channels", mine="yes", part="id")
    order = get(shared, "commentThreads", videoId="x", part="id", order="newest")
    both = get(shared, "channels", mine="true", forHandle="@x", part="id")
    none = get(shared, "subscriptions", part="id")

    assert_google_error(unknown, 400, "badRequest")
    assert 'Unknown name "publishedAfter"' in unknown.json()["error"]["message"]
    assert_google_error(part, 400, "unknownPart")
    assert part.json()["error"]["errors"][0]["domain"] == "youtube.part"
    assert_google_error(flag, 400, "invalid")
    assert_google_error(order, 400, "invalid")
    assert_google_error(both, 400, "incompatibleParameters")
    assert_google_error(none, 400, "missingRequiredParameter")


def test_comment_filters_are_honoured(shared: EmulatorServer) -> None:
    channel_id = channel(shared)["id"]
    every = threads(shared, maxResults=100)
    video = every[0]["snippet"]["videoId"]

    on_video = items(shared, "commentThreads", part="snippet", videoId=video, maxResults=100)
    about_channel = items(shared, "commentThreads", part="id", channelId=channel_id)
    searched = items(
        shared,
        "commentThreads",
        part="snippet",
        allThreadsRelatedToChannelId=channel_id,
        searchTerms="GRINDER",
        maxResults=100,
    )
    held = items(
        shared,
        "commentThreads",
        part="id",
        allThreadsRelatedToChannelId=channel_id,
        moderationStatus="heldForReview",
    )
    wanted = [every[3]["id"], every[9]["id"]]
    by_id = get(shared, "commentThreads", part="snippet", id=",".join(wanted)).json()

    assert [t["id"] for t in on_video] == [
        t["id"] for t in every if t["snippet"].get("videoId") == video
    ]
    assert [t["id"] for t in about_channel] == [
        t["id"] for t in every if "videoId" not in t["snippet"]
    ]
    texts = [t["snippet"]["topLevelComment"]["snippet"]["textOriginal"] for t in searched]
    assert texts and all("grinder" in text.lower() for text in texts)
    assert len(searched) < len(every)
    assert held == []  # nothing on the emulated channel waits for review
    assert [t["id"] for t in by_id["items"]] == wanted
    with_paging = get(shared, "commentThreads", part="id", id=wanted[0], maxResults=5)
    assert_google_error(with_paging, 400, "incompatibleParameters")


def test_text_format_html_escapes_what_plain_text_keeps(shared: EmulatorServer) -> None:
    def displayed(fmt: str) -> set[str]:
        return {
            t["snippet"]["topLevelComment"]["snippet"]["textDisplay"]
            for t in threads(shared, maxResults=100, textFormat=fmt)
        }

    assert "Which beans are in the thumbnail? Can&#39;t tell." in displayed("html")
    assert "Which beans are in the thumbnail? Can't tell." in displayed("plainText")


def test_channel_video_and_subscription_filters_are_honoured(shared: EmulatorServer) -> None:
    mine = channel(shared)
    handle = get(shared, "channels", forHandle="@LifeboatCoffee", part="id").json()
    username = get(shared, "channels", forUsername="lifeboat", part="id").json()
    uploads = mine["contentDetails"]["relatedPlaylists"]["uploads"]
    latest = get(shared, "playlistItems", playlistId=uploads, part="contentDetails").json()
    video = latest["items"][2]["contentDetails"]["videoId"]
    one = get(shared, "playlistItems", playlistId=uploads, videoId=video, part="snippet").json()
    liked = get(shared, "videos", myRating="like", part="id").json()
    elsewhere = get(
        shared, "subscriptions", mySubscribers="true", forChannelId="UCelsewhere", part="id"
    ).json()

    assert [c["id"] for c in handle["items"]] == [mine["id"]]
    assert username["items"] == []
    assert [i["snippet"]["resourceId"]["videoId"] for i in one["items"]] == [video]
    assert liked["items"] == []
    assert elsewhere["items"] == []


def test_fields_select_a_partial_response(shared: EmulatorServer) -> None:
    body = get(
        shared, "channels", mine="true", part="snippet,statistics", fields="items(id,snippet/title)"
    ).json()

    assert body == {
        "items": [
            {
                "id": channel(shared)["id"],
                "snippet": {"title": body["items"][0]["snippet"]["title"]},
            }
        ]
    }
    assert_google_error(
        get(shared, "channels", mine="true", part="id", fields="items("), 400, "invalidParameter"
    )


def test_the_daily_quota_runs_out_and_resets_at_midnight_pacific(make_emulator) -> None:
    # https://developers.google.com/youtube/v3/determine_quota_cost: a list call costs one
    # unit, an invalid one too; the budget resets at midnight Pacific Time.
    server = make_emulator({**SCALE, "youtube.quota_units": 3})
    control = EmulatorControl(server.url)

    answers = [get(server, "channels", mine="true", part="id").status_code for _ in range(2)]
    answers.append(get(server, "channels", part="id").status_code)  # invalid: still costs
    spent = get(server, "channels", mine="true", part="id")
    control.advance(seconds=7 * 3600 + 59 * 60)  # 07:59Z is 23:59 in California: same day
    still = get(server, "channels", mine="true", part="id")
    control.advance(seconds=60)
    after_midnight = get(server, "channels", mine="true", part="id")

    assert answers == [200, 200, 400]
    assert_google_error(spent, 403, "quotaExceeded")
    assert spent.json()["error"]["errors"][0]["domain"] == "youtube.quota"
    assert spent.headers["Date"] == "Thu, 01 Jan 2026 00:00:00 GMT"
    assert_google_error(still, 403, "quotaExceeded")
    assert after_midnight.status_code == 200
