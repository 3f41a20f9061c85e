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

_BOOKKEEPING = [Column("_deleted", "bool")]

COLUMNS: dict[str, list[Column]] = {
    "videos": [
        Column("id", key=True),
        Column("title", path="snippet.title"),
        Column("description", path="snippet.description"),
        Column("published_at", "timestamp", path="snippet.publishedAt"),
        Column("channel_id", path="snippet.channelId"),
        Column("channel_title", path="snippet.channelTitle"),
        Column("category_id", path="snippet.categoryId"),
        Column("tags", "json", path="snippet.tags"),
        Column("default_audio_language", path="snippet.defaultAudioLanguage"),
        Column("live_broadcast_content", path="snippet.liveBroadcastContent"),
        Column("thumbnail_url", path="snippet.thumbnails.high.url"),
        Column("duration", path="contentDetails.duration"),
        Column("definition", path="contentDetails.definition"),
        Column("caption", path="contentDetails.caption"),
        Column("privacy_status", path="status.privacyStatus"),
        Column("upload_status", path="status.uploadStatus"),
        Column("made_for_kids", "bool", path="status.madeForKids"),
        Column("view_count", "int", path="statistics.viewCount"),
        Column("like_count", "int", path="statistics.likeCount"),
        Column("favorite_count", "int", path="statistics.favoriteCount"),
        Column("comment_count", "int", path="statistics.commentCount"),
        Column("etag"),
        # Videos carry no modification time; publication is the last change YouTube reports.
        Column("_changed_at", "timestamp", path="snippet.publishedAt"),
        *_BOOKKEEPING,
    ],
    "comments": [
        Column("id", key=True),
        Column("video_id", path="snippet.videoId"),
        Column("channel_id", path="snippet.channelId"),
        Column("author_display_name", path="snippet.topLevelComment.snippet.authorDisplayName"),
        Column("author_channel_id", path="snippet.topLevelComment.snippet.authorChannelId.value"),
        Column("author_channel_url", path="snippet.topLevelComment.snippet.authorChannelUrl"),
        Column("text", path="snippet.topLevelComment.snippet.textOriginal"),
        Column("text_display", path="snippet.topLevelComment.snippet.textDisplay"),
        Column("like_count", "int", path="snippet.topLevelComment.snippet.likeCount"),
        Column("total_reply_count", "int", path="snippet.totalReplyCount"),
        Column("can_reply", "bool", path="snippet.canReply"),
        Column("is_public", "bool", path="snippet.isPublic"),
        Column("published_at", "timestamp", path="snippet.topLevelComment.snippet.publishedAt"),
        Column("updated_at", "timestamp", path="snippet.topLevelComment.snippet.updatedAt"),
        Column("etag"),
        Column("_changed_at", "timestamp", path="snippet.topLevelComment.snippet.updatedAt"),
        *_BOOKKEEPING,
    ],
    "subscribers": [
        Column("id", key=True),
        Column("subscriber_channel_id", path="subscriberSnippet.channelId"),
        Column("subscriber_title", path="subscriberSnippet.title"),
        Column("subscriber_description", path="subscriberSnippet.description"),
        Column("subscriber_thumbnail_url", path="subscriberSnippet.thumbnails.default.url"),
        Column("channel_id", path="snippet.resourceId.channelId"),
        Column("subscribed_at", "timestamp", path="snippet.publishedAt"),
        Column("etag"),
        Column("_changed_at", "timestamp", path="snippet.publishedAt"),
        *_BOOKKEEPING,
    ],
}
