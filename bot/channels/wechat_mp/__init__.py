"""WeChat Official Account (公众号) channel: ``GET|POST /wechat/mp/{account}``."""

from bot.channels.wechat_mp.channel import CHANNEL, WeChatMpChannel

__all__ = ["CHANNEL", "WeChatMpChannel"]
