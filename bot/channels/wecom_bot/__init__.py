"""WeCom AI bot (企业微信智能机器人) channel: ``GET|POST /wechat/wecom-bot/{bot}``."""

from bot.channels.wecom_bot.channel import CHANNEL, WeComBotChannel, strip_mentions

__all__ = ["CHANNEL", "WeComBotChannel", "strip_mentions"]
