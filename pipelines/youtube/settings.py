"""YouTube Data API v3's contract as the connector relies on it."""

from __future__ import annotations

from pipelines.arrow import Column

API = "/youtube/v3"
# Documented maxima of maxResults per list method, and of ids per videos.list call.
PAGE_SIZES = {"playlistItems": 50, "commentThreads": 100, "subscriptions": 50}
VIDEO_IDS_PER_REQUEST = 50
# videos.list costs one quota unit whatever the parts, so ask for all that are worth keeping.
VIDEO_PARTS = "snippet,statistics,contentDetails,status"
# YouTube has no change feed: listings are newest first and the connector stops at its
# cursor. Items published within this many days before the cursor are read again, because
# an upload's statistics and its comments change most in its first days.
LOOKBACK_OPTION = "lookback_days"
DEFAULT_LOOKBACK_DAYS = 7
# The field each dataset's listing is ordered by (newest first), and so its cursor.
CURSOR = {"videos": "published_at", "comments": "published_at", "subscribers": "subscribed_at"}
# Reasons in Google's error bodies that mean the account is locked out or the quota is spent.
LOCKOUT_REASONS = {
    "accountClosed": "the YouTube account has been closed",
    "accountSuspended": "the YouTube account has been suspended",
    "authenticatedUserAccountClosed": "the YouTube account has been closed",
    "authenticatedUserAccountSuspended": "the YouTube account has been suspended",
    "youtubeSignupRequired": "the Google account has no YouTube channel",
    "forbidden": "the token is not allowed to read this channel",
    "insufficientPermissions": "the token lacks the youtube.readonly scope",
}
DAILY_QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded"}
SHORT_RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}
# The daily quota resets at midnight Pacific time.
QUOTA_TIME_ZONE = "America/Los_Angeles"

# Descriptions are YouTube's own (the Data API v3 reference; Google's discovery document),
# shortened to a line; tests/pipelines/test_column_descriptions.py checks them against it.
_ETAG = "Etag of this resource: it changes when the resource changes"


def _deleted(what: str) -> Column:
    return Column(
        "_deleted",
        "bool",
        description=f"True when YouTube no longer lists the {what}; the copy keeps it",
    )


COLUMNS: dict[str, list[Column]] = {
    "videos": [
        Column(
            "id", key=True, description="The ID that YouTube uses to uniquely identify the video"
        ),
        Column("title", path="snippet.title", description="The video's title"),
        Column("description", path="snippet.description", description="The video's description"),
        Column(
            "published_at",
            "timestamp",
            path="snippet.publishedAt",
            description="The date and time when the video was uploaded",
        ),
        Column(
            "channel_id",
            path="snippet.channelId",
            description="The ID that YouTube uses to uniquely identify the channel that the "
            "video was uploaded to",
        ),
        Column(
            "channel_title",
            path="snippet.channelTitle",
            description="Channel title for the channel that the video belongs to",
        ),
        Column(
            "category_id",
            path="snippet.categoryId",
            description="The YouTube video category associated with the video",
        ),
        Column(
            "tags",
            "json",
            path="snippet.tags",
            description="A list of keyword tags associated with the video",
        ),
        Column(
            "default_audio_language",
            path="snippet.defaultAudioLanguage",
            description="The language spoken in the video's default audio track",
        ),
        Column(
            "live_broadcast_content",
            path="snippet.liveBroadcastContent",
            description="Whether the video is an upcoming or active live broadcast (upcoming, "
            "live), or none",
        ),
        Column(
            "thumbnail_url",
            path="snippet.thumbnails.high.url",
            description="The URL of the video's high resolution thumbnail image",
        ),
        Column(
            "duration",
            path="contentDetails.duration",
            description="The length of the video, as an ISO 8601 duration (PT15M51S is 15 "
            "minutes 51 seconds)",
        ),
        Column(
            "definition",
            path="contentDetails.definition",
            description="Whether the video is available in high definition (hd) or only in "
            "standard definition (sd)",
        ),
        Column(
            "caption",
            path="contentDetails.caption",
            description="Whether the video has captions or not",
        ),
        Column(
            "privacy_status",
            path="status.privacyStatus",
            description="The video's privacy status: public, private or unlisted",
        ),
        Column(
            "upload_status",
            path="status.uploadStatus",
            description="The status of the uploaded video, e.g. processed",
        ),
        Column(
            "made_for_kids",
            "bool",
            path="status.madeForKids",
            description="Whether the video is designated as child-directed (made for kids)",
        ),
        Column(
            "view_count",
            "int",
            path="statistics.viewCount",
            description="The number of times the video has been viewed",
        ),
        Column(
            "like_count",
            "int",
            path="statistics.likeCount",
            description="The number of users who have indicated that they liked the video",
        ),
        Column(
            "favorite_count",
            "int",
            path="statistics.favoriteCount",
            description="The number of users who currently have the video marked as a "
            "favorite video",
        ),
        Column(
            "comment_count",
            "int",
            path="statistics.commentCount",
            description="The number of comments for the video",
        ),
        Column("etag", description=_ETAG),
        # Videos carry no modification time; publication is the last change YouTube reports.
        Column(
            "_changed_at",
            "timestamp",
            path="snippet.publishedAt",
            description="When the video was uploaded: YouTube reports no later change time",
        ),
        _deleted("video"),
    ],
    "comments": [
        Column(
            "id",
            key=True,
            description="The ID that YouTube uses to uniquely identify the comment thread",
        ),
        Column(
            "video_id",
            path="snippet.videoId",
            description="The ID of the video the comments refer to, if any",
        ),
        Column(
            "channel_id",
            path="snippet.channelId",
            description="The YouTube channel the comments refer to, or the channel with the "
            "video they refer to",
        ),
        Column(
            "author_display_name",
            path="snippet.topLevelComment.snippet.authorDisplayName",
            description="The name of the user who posted the comment",
        ),
        Column(
            "author_channel_id",
            path="snippet.topLevelComment.snippet.authorChannelId.value",
            description="The id of the author's YouTube channel",
        ),
        Column(
            "author_channel_url",
            path="snippet.topLevelComment.snippet.authorChannelUrl",
            description="Link to the author's YouTube channel, if any",
        ),
        Column(
            "text",
            path="snippet.topLevelComment.snippet.textOriginal",
            description="The comment's original raw text as initially posted or last updated",
        ),
        Column(
            "text_display",
            path="snippet.topLevelComment.snippet.textDisplay",
            description="The comment's text as YouTube displays it, plain text or HTML",
        ),
        Column(
            "like_count",
            "int",
            path="snippet.topLevelComment.snippet.likeCount",
            description="The total number of likes this comment has received",
        ),
        Column(
            "total_reply_count",
            "int",
            path="snippet.totalReplyCount",
            description="The total number of replies (not including the top level comment)",
        ),
        Column(
            "can_reply",
            "bool",
            path="snippet.canReply",
            description="Whether the current viewer of the thread (the account lifeboat reads "
            "with) can reply to it",
        ),
        Column(
            "is_public",
            "bool",
            path="snippet.isPublic",
            description="Whether the thread (and therefore all its comments) is visible to "
            "all YouTube users",
        ),
        Column(
            "published_at",
            "timestamp",
            path="snippet.topLevelComment.snippet.publishedAt",
            description="The date and time when the comment was originally published",
        ),
        Column(
            "updated_at",
            "timestamp",
            path="snippet.topLevelComment.snippet.updatedAt",
            description="The date and time when the comment was last updated",
        ),
        Column("etag", description=_ETAG),
        Column(
            "_changed_at",
            "timestamp",
            path="snippet.topLevelComment.snippet.updatedAt",
            description="The date and time when the comment was last updated on YouTube",
        ),
        _deleted("comment thread"),
    ],
    "subscribers": [
        Column(
            "id",
            key=True,
            description="The ID that YouTube uses to uniquely identify the subscription",
        ),
        Column(
            "subscriber_channel_id",
            path="subscriberSnippet.channelId",
            description="The channel ID of the subscriber",
        ),
        Column(
            "subscriber_title",
            path="subscriberSnippet.title",
            description="The title of the subscriber's channel",
        ),
        Column(
            "subscriber_description",
            path="subscriberSnippet.description",
            description="The description of the subscriber's channel",
        ),
        Column(
            "subscriber_thumbnail_url",
            path="subscriberSnippet.thumbnails.default.url",
            description="The URL of the subscriber's default thumbnail image",
        ),
        Column(
            "channel_id",
            path="snippet.resourceId.channelId",
            description="The ID that YouTube uses to uniquely identify the channel subscribed "
            "to: yours",
        ),
        Column(
            "subscribed_at",
            "timestamp",
            path="snippet.publishedAt",
            description="The date and time that the subscription was created",
        ),
        Column("etag", description=_ETAG),
        Column(
            "_changed_at",
            "timestamp",
            path="snippet.publishedAt",
            description="The date and time that the subscription was created: YouTube "
            "reports no later change",
        ),
        _deleted("subscription"),
    ],
}
