"""Channels: one package per platform — WeChat Official Account (``wechat_mp``, XML), WeCom
AI bot (``wecom_bot``, JSON), WeChat customer service (``wechat_kf``, 微信客服), the generic
JSON webhook (``webhook``) — each a ``protocol.Channel`` that converts to and from
``bot.domain`` types; the pipeline reaches them as a callable through ``Ingress``.

Shared once: ``platform.PlatformClient`` (HTTP retries, token cache, throttle), ``crypto``,
``base`` (responses, XML, body limits, error mapping), ``render``. The composition root
builds a ``registry.ChannelRegistry`` with one line per channel; ingress, handoff and the
outbox ask it. ``outbound.OutboundSender`` adds the staff side (WeCom group robots).
"""
