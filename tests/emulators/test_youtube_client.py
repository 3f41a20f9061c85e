"""Google's own client (google-api-python-client) against the YouTube emulator over HTTP.

The client builds every request from the discovery document it ships and pages with its own
`list_next`: what it can do against the emulator, it can do against YouTube.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import google_auth_httplib2
import httplib2
import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from emulators.control import EmulatorControl
from emulators.credentials import demo_credentials
from emulators.server import EmulatorServer

TOKEN = demo_credentials(["youtube"])["youtube"]["access_token"]
SCALE = {"youtube.videos": 130, "youtube.comments": 230, "youtube.subscribers": 120}


def youtube(server: EmulatorServer, token: str = TOKEN) -> Any:
    """The official client, its endpoint moved to the emulator.

    The discovery document's rootUrl is https://youtube.googleapis.com/ and each method's
    path starts with youtube/v3/, so api_endpoint replaces only the host part.
    """
    # No refresh on 401: a bare access token has nothing to refresh with, and the test
    # wants the API's own answer.
    http = google_auth_httplib2.AuthorizedHttp(
        Credentials(token), http=httplib2.Http(timeout=10), refresh_status_codes=()
    )
    return build(
        "youtube",
        "v3",
        http=http,
        static_discovery=True,
        client_options={"api_endpoint": f"{server.url}/youtube"},
    )


def every_page(collection: Any, **params: Any) -> Iterator[dict[str, Any]]:
    """Pages of a listing, followed to the end with the client's own list_next."""
    request = collection.list(**params)
    while request is not None:
        page = request.execute()
        yield page
        request = collection.list_next(request, page)


def every_item(collection: Any, **params: Any) -> list[dict[str, Any]]:
    return [item for page in every_page(collection, **params) for item in page["items"]]


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    from emulators.server import Emulator

    running = EmulatorServer(Emulator(seed=7, scale=SCALE)).start()
    yield running
    running.stop()


def test_videos_page_to_the_end_through_the_uploads_playlist(server: EmulatorServer) -> None:
    api = youtube(server)
    channel = api.channels().list(mine=True, part="contentDetails").execute()["items"][0]
    uploads = channel["contentDetails"]["relatedPlaylists"]["uploads"]

    items = every_item(
        api.playlistItems(), playlistId=uploads, part="contentDetails", maxResults=50
    )
    ids = [item["contentDetails"]["videoId"] for item in items]
    videos = []
    for start in range(0, len(ids), 50):
        chunk = ids[start : start + 50]
        page = api.videos().list(id=",".join(chunk), part="snippet,statistics").execute()
        videos.extend(page["items"])

    assert len(ids) == len(set(ids)) == 130
    assert [v["id"] for v in videos] == ids
    published = [v["snippet"]["publishedAt"] for v in videos]
    assert published == sorted(published, reverse=True)  # the uploads playlist: newest first


def test_comment_threads_page_to_the_end_by_channel_and_by_video(server: EmulatorServer) -> None:
    api = youtube(server)
    channel_id = api.channels().list(mine=True, part="id").execute()["items"][0]["id"]

    threads = every_item(
        api.commentThreads(),
        allThreadsRelatedToChannelId=channel_id,
        part="snippet",
        maxResults=100,
        order="time",
        textFormat="plainText",
    )
    on_video = threads[0]["snippet"]["videoId"]
    by_video = every_item(api.commentThreads(), videoId=on_video, part="snippet", maxResults=7)

    assert len({t["id"] for t in threads}) == len(threads) == 230
    posted = [t["snippet"]["topLevelComment"]["snippet"]["publishedAt"] for t in threads]
    assert posted == sorted(posted, reverse=True)  # order=time: newest first, what the
    # connector's incremental stop relies on
    expected = [t["id"] for t in threads if t["snippet"].get("videoId") == on_video]
    assert [t["id"] for t in by_video] == expected and expected


def test_subscribers_page_to_the_end_in_both_feeds(server: EmulatorServer) -> None:
    api = youtube(server)

    everyone = every_item(
        api.subscriptions(), mySubscribers=True, part="snippet,subscriberSnippet", maxResults=50
    )
    recent = every_item(
        api.subscriptions(), myRecentSubscribers=True, part="snippet", maxResults=50
    )

    assert everyone and {s["id"] for s in everyone} == {s["id"] for s in recent}
    newest_first = [s["snippet"]["publishedAt"] for s in recent]
    assert newest_first == sorted(newest_first, reverse=True)
    assert all(s["subscriberSnippet"]["channelId"].startswith("UC") for s in everyone)


def test_a_wrong_token_gets_the_clients_401_http_error(server: EmulatorServer) -> None:
    api = youtube(server, token="ya29.a-well-formed-but-wrong-token")

    with pytest.raises(HttpError) as refused:
        api.channels().list(mine=True, part="id").execute()

    assert refused.value.status_code == 401
    assert refused.value.error_details[0]["reason"] == "authError"
    assert "invalid authentication credentials" in refused.value.reason


def test_a_revoked_token_is_refused_from_then_on(make_emulator) -> None:
    fresh = make_emulator({"youtube.videos": 3})
    api = youtube(fresh)
    assert api.channels().list(mine=True, part="id").execute()["items"]

    EmulatorControl(fresh.url).credentials("youtube", access_token="ya29.the-rotated-token")

    with pytest.raises(HttpError) as refused:
        api.channels().list(mine=True, part="id").execute()
    assert refused.value.status_code == 401
    assert (
        youtube(fresh, "ya29.the-rotated-token")
        .channels()
        .list(mine=True, part="id")
        .execute()["items"]
    )


def test_the_clients_errors_carry_googles_reasons(server: EmulatorServer) -> None:
    api = youtube(server)

    with pytest.raises(HttpError) as unknown_part:
        api.channels().list(mine=True, part="snippets").execute()
    with pytest.raises(HttpError) as too_many:
        api.subscriptions().list(mySubscribers=True, part="id", maxResults=51).execute()

    assert unknown_part.value.status_code == 400
    assert unknown_part.value.error_details[0]["reason"] == "unknownPart"
    assert too_many.value.error_details[0]["reason"] == "invalidParameter"
