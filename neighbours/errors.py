"""邻里圈 errors (codes stable, messages in Chinese)."""

from app.errors import APIError, Conflict, Forbidden, NotFound, ServiceUnavailable, ValidationFailed


class PostNotFound(NotFound):
    code, message = "post_not_found", "动态不存在"


class CommentNotFound(NotFound):
    code, message = "comment_not_found", "评论不存在"


class GroupNotFound(NotFound):
    code, message = "group_not_found", "小组不存在"


class CommunityNotFound(NotFound):
    code, message = "community_not_found", "社区不存在"


class ImageNotFound(NotFound):
    code, message = "image_not_found", "图片不存在"


class WordNotFound(NotFound):
    code, message = "sensitive_word_not_found", "敏感词不存在"


class MuteNotFound(NotFound):
    code, message = "mute_not_found", "禁言记录不存在"


class NotAuthor(Forbidden):
    code, message = "not_author", "只有作者本人可以删除"


class MembershipRequired(Forbidden):
    code, message = "neighbours_membership_required", "加入社区住户后才能使用邻里圈"


class CommunityRequired(ValidationFailed):
    code, message = "community_required", "您在多个社区有住房，请指定社区"


class ResidentNotVerified(Forbidden):
    code, message = "resident_not_verified", "实名核验通过后才能发布和互动"


class UserMuted(Forbidden):
    code, message = "user_muted", "您已被禁言，暂时不能发布或评论"


class GroupMembersOnly(Forbidden):
    code, message = "group_members_only", "仅小组成员可以查看和发布"


class GroupOwnerCannotLeave(Conflict):
    code, message = "group_owner_cannot_leave", "组长不能退出自己创建的小组"


class GroupNameTaken(Conflict):
    code, message = "group_name_taken", "本社区已有同名小组"


class NotGroupOwner(Forbidden):
    code, message = "not_group_owner", "只有组长可以审批入组申请"


class ContentRejected(APIError):
    status, code, message = 422, "content_rejected", "内容包含违规词语，无法发布"


class ContentRisky(APIError):
    status, code, message = 422, "content_risky", "内容未通过安全检查，无法发布"


class ContentCheckUnavailable(ServiceUnavailable):
    code, message = "content_check_unavailable", "内容安全检查暂时不可用，请稍后再试"


class HotSnapshotExpired(APIError):
    status, code, message = 410, "hot_snapshot_expired", "热门榜单已更新，请从第一页重新加载"


class NotHidden(Conflict):
    code, message = "not_hidden", "该内容未被隐藏"


class NotPublished(Conflict):
    code, message = "not_published", "该内容当前不可操作"


class ImageAlreadyDecided(Conflict):
    code, message = "image_already_decided", "该图片已审核"


class WordExists(Conflict):
    code, message = "sensitive_word_exists", "该敏感词已存在"


class CallbackSignatureInvalid(APIError):
    status, code, message = 403, "wechat_signature_invalid", "消息推送签名无效"
