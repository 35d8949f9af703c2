"""Every official vector of wechat-protocol.md section 3, error cases, and wechatpy interop."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import ElementTree as ET
from wechatpy.crypto import PrpCrypto
from wechatpy.crypto import WeChatCrypto as WeChatpyCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WeChatpyEnterpriseCrypto
from wechatpy.utils import check_signature as wechatpy_check_signature

from bot.channels.crypto import (
    MessageCrypto,
    aes_key,
    check_timestamp,
    sha1_signature,
    verify_signature,
)
from bot.channels.errors import (
    BadRequestError,
    DecryptError,
    ReceiveIdMismatch,
    ReplayError,
    SignatureError,
)

OA_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
V31_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGH"
    "QHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6t"
    "EDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3"
    "yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl"
    "+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)
V31_PLAIN = (
    b"<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n"
    b"<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>\n"
    b"<CreateTime>1409735668</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n"
    b"<Content><![CDATA[abcdteT]]></Content>\n<MsgId>6054768590064713728</MsgId>\n</xml>"
)
WECOM_33 = ("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7")
V34_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUp"
    "j911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue0"
    "6DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3I"
    "QH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27B"
    "o6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07"
    "+qN+E7Q=="
)
V34_PLAIN = (
    b"<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n"
    b"<FromUserName><![CDATA[mycreate]]></FromUserName>\n<CreateTime>1409659813</CreateTime>\n"
    b"<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[hello]]></Content>\n"
    b"<MsgId>4561255354251345929</MsgId>\n<AgentID>218</AgentID>\n</xml>"
)
WECOM_35 = (
    "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo",
    "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt",
    "ww1436e0e65a779aee",
)
WECHATPY_36 = ("123456", "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR", "wx49f0ab532d5d035a")


def _raw_pad(crypto_key: str, encrypted: str) -> int:
    """The PKCS#7 pad length of a ciphertext, decrypted independently of our code."""
    key = base64.b64decode(crypto_key + "=")
    dec = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = dec.update(base64.b64decode(encrypted)) + dec.finalize()
    return plain[-1]


# --- 1.1 / 3.x signatures -------------------------------------------------------------------
def test_oa_url_signature_vector() -> None:
    assert sha1_signature("spamtest", "1409735669", "1320562132") == (
        "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a"
    )
    verify_signature(
        "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a", "spamtest", "1409735669", "1320562132"
    )
    with pytest.raises(SignatureError):
        verify_signature(
            "16120ec1b8dbb870f510d87ce6bc2463eae6ca1b", "spamtest", "1409735669", "1320562132"
        )
    with pytest.raises(SignatureError):
        verify_signature(None, "spamtest", "1409735669", "1320562132")


# --- 3.1 OA decrypt (pad 2) -------------------------------------------------------------------
def test_31_oa_safe_mode_decrypt() -> None:
    crypto = MessageCrypto("spamtest", OA_KEY, "wx2c2769f8efd9abc2")
    assert aes_key(OA_KEY).hex() == (
        "69b71d79f8218a39259a7a29aabb2dbafc31cb3d35db7e39ebbf3d0010831051"
    )
    plain = crypto.verify_and_decrypt(
        "5d197aaffba7e9b25a30732f161a50dee96bd5fa", "1409735669", "1320562132", V31_ENCRYPT
    )
    assert plain == V31_PLAIN
    assert _raw_pad(OA_KEY, V31_ENCRYPT) == 2
    # The random prefix of the vector is b"89465c840c5f116f": re-encrypting reproduces it.
    assert crypto.encrypt(V31_PLAIN, b"89465c840c5f116f") == V31_ENCRYPT


def test_31_wrong_appid_and_wrong_key_are_rejected() -> None:
    with pytest.raises(ReceiveIdMismatch):
        MessageCrypto("spamtest", OA_KEY, "wxOTHERAPPID00000").decrypt(V31_ENCRYPT)
    other_key = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg"
    with pytest.raises(DecryptError):
        MessageCrypto("spamtest", other_key, "wx2c2769f8efd9abc2").decrypt(V31_ENCRYPT)
    with pytest.raises(SignatureError):
        MessageCrypto("spamtest", OA_KEY, "wx2c2769f8efd9abc2").verify_and_decrypt(
            "5d197aaffba7e9b25a30732f161a50dee96bd5fa", "1409735670", "1320562132", V31_ENCRYPT
        )


# --- 3.2 deterministic encrypt -----------------------------------------------------------------
def test_32_deterministic_encrypt() -> None:
    crypto = MessageCrypto("pamtest", OA_KEY, "wxb11529c136998cb6")
    assert crypto.encrypt("我是中文abcd123", b"aaaabbbbccccdddd") == (
        "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
    )
    fixed = MessageCrypto(
        "pamtest", OA_KEY, "wxb11529c136998cb6", random_bytes=lambda: b"aaaabbbbccccdddd"
    )
    assert fixed.encrypt("我是中文abcd123").startswith("jn1L23DB+6ELqJ+6bruv21")


V32_VIDEO = (
    "<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName>"
    "<FromUserName><![CDATA[gh_7f083739789a]]></FromUserName><CreateTime>1407743423</CreateTime>"
    "<MsgType><![CDATA[video]]></MsgType><Video><MediaId><![CDATA[eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71"
    "s79GUxqdUkjm6Gs2Ed1KF3ulAOA9H1xG0]]></MediaId><Title><![CDATA[testCallBackReplyVideo]]>"
    "</Title><Description><![CDATA[testCallBackReplyVideo]]></Description></Video></xml>"
)
V32_VIDEO_ENCRYPTED = (
    "jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesxlku"
    "pqcEcW7ZQweImX9+wLMa0GaUzpkycA8+IamDBxn5loLgZpnS7fVAbExOkK5DYHBmv5tptA9tklE/fTIILHR8HLXa5nQ"
    "vFb3tYPKAlHF3rtTeayNf0QuM+UW/wM9enGIDIJHF7CLHiDNAYxr+r+OrJCmPQyTy8cVWlu9iSvOHPT/77bZqJucQHQ"
    "04sq7KZI27OcqpQNSto2OdHCoTccjggX5Z9Mma0nMJBU+jLKJ38YB1fBIz+vBzsYjrTmFQ44YfeEuZ+xRTQwr92vhA9"
    "OxchWVINGC50qE/6lmkwWTwGX9wtQpsJKhP+oS7rvTY8+VdzETdfakjkwQ5/Xka042OlUb1/slTwo4RscuQ+RdxSGvD"
    "ahxAJ6+EAjLt9d8igHngxIbf6YyqqROxuxqIeIch3CssH/LqRs+iAcILvApYZckqmA7FNERspKA5f8GoJ9sv8xmGvZ9"
    "Yrf57cExWtnX8aCMMaBropU/1k+hKP5LVdzbWCG0hGwx/dQudYR/eXp3P0XxjlFiy+9DMlaFExWUZQDajPkdPrEeOwo"
    "fJb"
)


def test_32_second_video_reply_vector() -> None:
    """The longer vector of the same Java test (WxJava WxCryptUtilTest.afterAesEncrypt2)."""
    crypto = MessageCrypto("pamtest", OA_KEY, "wxb11529c136998cb6")
    assert crypto.encrypt(V32_VIDEO, b"aaaabbbbccccdddd") == V32_VIDEO_ENCRYPTED
    assert crypto.decrypt(V32_VIDEO_ENCRYPTED).decode() == V32_VIDEO


# --- 3.3 WeCom URL verification ---------------------------------------------------------------
def test_33_wecom_url_verification() -> None:
    token, key, corp = WECOM_33
    crypto = MessageCrypto(token, key, corp)
    echostr = (
        "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
    )
    plain = crypto.verify_and_decrypt(
        "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780", echostr
    )
    assert plain == b"1616140317555161061"


# --- 3.4 WeCom decrypt (pad 30) ---------------------------------------------------------------
def test_34_wecom_decrypt_with_pad_30() -> None:
    token, key, corp = WECOM_33
    crypto = MessageCrypto(token, key, corp)
    plain = crypto.verify_and_decrypt(
        "477715d11cdb4164915debcba66cb864d751f3e6", "1409659813", "1372623149", V34_ENCRYPT
    )
    assert plain == V34_PLAIN
    assert _raw_pad(key, V34_ENCRYPT) == 30  # a 16-byte PKCS#7 unpadder would reject this


# --- 3.5 WeCom newer sample ---------------------------------------------------------------------
def test_35_wecom_newer_sample() -> None:
    token, key, corp = WECOM_35
    crypto = MessageCrypto(token, key, corp)
    echostr = (
        "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA=="
    )
    assert (
        crypto.verify_and_decrypt(
            "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb", "1476416373", "47744683", echostr
        )
        == b"1288432023552776189"
    )
    encrypted = (
        "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgG"
        "zBhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U"
        "+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qAR"
        "R4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6a"
        "SDPOYuPDGOCI8jmnKiypE+"
    )
    plain = crypto.verify_and_decrypt(
        "0c3914025cb4b4d68103f6bfc8db550f79dcf48e", "1476422779", "1597212914", encrypted
    )
    assert plain.decode() == (
        "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName>"
        "<CreateTime>1476422779</CreateTime><MsgType>text</MsgType><Content>你好</Content>"
        "<MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>"
    )


# --- 3.6 wechatpy's WeCom vectors -------------------------------------------------------------
def test_36_echostr_and_the_nonce_that_must_fail() -> None:
    token, key, corp = WECHATPY_36
    crypto = MessageCrypto(token, key, corp)
    echostr = (
        "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q=="
    )
    signature = "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96"
    assert crypto.verify_and_decrypt(signature, "1411443780", "437374425", echostr) == (
        b"5927782489442352469"
    )
    with pytest.raises(SignatureError):
        crypto.verify_and_decrypt(signature, "1411443780", "437374424", echostr)


def test_36_deterministic_encrypt_and_signature() -> None:
    token, key, corp = WECHATPY_36
    crypto = MessageCrypto(token, key, corp, random_bytes=lambda: b"1234567890123456")
    plaintext = (
        "<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n"
        "<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>\n"
        "<ToUserName><![CDATA[messense]]></ToUserName>\n<AgentID>1</AgentID>\n"
        "<CreateTime>1411525903</CreateTime>\n</xml>"
    )
    expected = (
        "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBq"
        "GsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nF"
        "hHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbg"
        "X05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3y"
        "pD3WeK2XeFYFMNMpatF9XiKzHo3"
    )
    xml = crypto.encrypt_xml(plaintext, nonce="461056294", timestamp="1411525903")
    assert f"<Encrypt><![CDATA[{expected}]]></Encrypt>" in xml
    assert "<MsgSignature><![CDATA[407518b7649e86ef23978113f92d27afa9296533]]></MsgSignature>" in (
        xml
    )
    assert "<TimeStamp>1411525903</TimeStamp>" in xml
    assert "<Nonce><![CDATA[461056294]]></Nonce>" in xml


def test_36_decrypt() -> None:
    token, key, corp = WECHATPY_36
    crypto = MessageCrypto(token, key, corp)
    encrypted = (
        "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrs"
        "TyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+"
        "BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7"
        "vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dS"
        "hyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="
    )
    plain = crypto.verify_and_decrypt(
        "74d92dfeb87ba7c714f89d98870ae5eb62dff26d", "1411525903", "461056294", encrypted
    ).decode()
    assert "<Content><![CDATA[test]]></Content>" in plain
    assert "<FromUserName><![CDATA[messense]]></FromUserName>" in plain
    assert "<MsgId>4363689963896700987</MsgId>" in plain
    assert "<AgentID>1</AgentID>" in plain


# --- malformed input ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "payload",
    ["", "not base64!!", base64.b64encode(b"short").decode(), base64.b64encode(b"x" * 33).decode()],
)
def test_malformed_ciphertexts_raise_decrypt_error(payload: str) -> None:
    with pytest.raises(DecryptError):
        MessageCrypto("t", OA_KEY, "wx").decrypt(payload)


def test_length_prefix_beyond_payload_is_rejected() -> None:
    crypto = MessageCrypto("t", OA_KEY, "wx")
    # Well padded, right key, but the length prefix claims more bytes than there are.
    buf = b"r" * 16 + (10_000).to_bytes(4, "big") + b"abc"
    pad = 32 - len(buf) % 32
    buf += bytes([pad]) * pad
    key = base64.b64decode(OA_KEY + "=")
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    ciphertext = base64.b64encode(enc.update(buf) + enc.finalize()).decode()
    with pytest.raises(DecryptError):
        crypto.decrypt(ciphertext)


def test_timestamp_window() -> None:
    assert check_timestamp("1000", 300, 1200.0) == 1000
    with pytest.raises(ReplayError):
        check_timestamp("1000", 300, 1301.0)
    with pytest.raises(ReplayError):
        check_timestamp("2000", 300, 1000.0)
    with pytest.raises(BadRequestError):
        check_timestamp("12ab", 300, 1000.0)
    with pytest.raises(SignatureError):
        check_timestamp("", 300, 1000.0)


def test_bad_encoding_aes_key_is_refused() -> None:
    with pytest.raises(ValueError, match="43"):
        MessageCrypto("t", "short", "wx")


# --- interop with wechatpy --------------------------------------------------------------------
def test_wechatpy_encrypts_we_decrypt_and_we_encrypt_wechatpy_decrypts() -> None:
    theirs = WeChatpyCrypto("spamtest", OA_KEY, "wx2c2769f8efd9abc2")
    ours = MessageCrypto("spamtest", OA_KEY, "wx2c2769f8efd9abc2")
    message = "<xml><Content><![CDATA[湿垃圾几点扔？🙂]]></Content></xml>"
    envelope = theirs.encrypt_message(message, "12345", "1700000000")
    root = ET.fromstring(envelope)
    plain = ours.verify_and_decrypt(
        root.findtext("MsgSignature"), "1700000000", "12345", root.findtext("Encrypt") or ""
    )
    assert plain.decode() == message

    reply = ours.encrypt_xml(
        "<xml><Content><![CDATA[早上7点]]></Content></xml>", nonce="777", timestamp="1700000001"
    )
    back = ET.fromstring(reply)
    decrypted = theirs.decrypt_message(
        reply, back.findtext("MsgSignature"), back.findtext("TimeStamp"), back.findtext("Nonce")
    )
    assert decrypted == "<xml><Content><![CDATA[早上7点]]></Content></xml>"


def test_wechatpy_enterprise_checks_our_wecom_echo_and_json_reply() -> None:
    token, key, corp = WECOM_33
    theirs = WeChatpyEnterpriseCrypto(token, key, corp)
    ours = MessageCrypto(token, key, corp, random_bytes=lambda: b"0123456789abcdef")
    echo = ours.encrypt("4242")
    signature = ours.signature("1700000000", "99", echo)
    assert theirs.check_signature(signature, "1700000000", "99", echo) == "4242"

    # AI-bot JSON reply (receive id ""), decrypted with wechatpy's primitive.
    bot = MessageCrypto(token, key, "")
    reply = json.loads(bot.encrypt_json('{"msgtype":"stream"}', nonce="5", timestamp="6"))
    assert set(reply) == {"encrypt", "msgsignature", "timestamp", "nonce"}
    assert (
        reply["msgsignature"]
        == hashlib.sha1("".join(sorted([token, "6", "5", reply["encrypt"]])).encode()).hexdigest()
    )
    assert PrpCrypto(aes_key(key)).decrypt(reply["encrypt"], "") == '{"msgtype":"stream"}'


def test_wechatpy_agrees_on_the_url_signature() -> None:
    wechatpy_check_signature(
        "spamtest", "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a", "1409735669", "1320562132"
    )
