"""WeChat customer service (微信客服) channel: ``GET|POST /wechat/kf/{account}``."""

from bot.channels.wechat_kf.channel import CHANNEL, WeChatKfChannel

__all__ = ["CHANNEL", "WeChatKfChannel"]
