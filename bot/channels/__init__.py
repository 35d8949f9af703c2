"""Channel adapters: WeChat Official Account (XML), WeCom AI bot (JSON), the generic JSON
webhook, their crypto and the outbound senders. Channels only convert to and from
``bot.domain`` types; the pipeline reaches them as a callable through ``Ingress``.

Entry points: ``bot.channels.web.add_channel_routes`` / ``ChannelDeps``,
``bot.channels.outbound.OutboundSender`` and ``bot.channels.web.make_try_handler``.
"""
