"""Time zone names as Microsoft Graph takes them: Windows names, UTC and some IANA names.

Windows -> IANA comes from CLDR's windowsZones.xml, as shipped by tzlocal (its
`windows_tz` module is generated from that file; tzlocal is installed with celery), so no
copy of the table lives here. `timeZone` in a dateTimeTimeZone and the zone of
`Prefer: outlook.timezone` may be "any of the time zones supported by Windows, as well as"
the IANA names listed on learn.microsoft.com/graph/api/resources/datetimetimezone; other
names answer 400 TimeZoneNotSupportedException (as the real API does for, say,
"Greenwich Mean Time").
"""
from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tzlocal.windows_tz import tz_win, win_tz

# The IANA names the dateTimeTimeZone page lists (its "Kiev", "Tashkent", "Almaty" and
# "Rangoon" spellings in parentheses are the tz database names and are listed too).
DOCUMENTED_IANA = frozenset("""
Etc/GMT+12 Etc/GMT+11 Pacific/Honolulu America/Anchorage America/Santa_Isabel
America/Los_Angeles America/Phoenix America/Chihuahua America/Denver America/Guatemala
America/Chicago America/Mexico_City America/Regina America/Bogota America/New_York
America/Indiana/Indianapolis America/Caracas America/Asuncion America/Halifax America/Cuiaba
America/La_Paz America/Santiago America/St_Johns America/Sao_Paulo
America/Argentina/Buenos_Aires America/Cayenne America/Godthab America/Montevideo
America/Bahia Etc/GMT+2 Atlantic/Azores Atlantic/Cape_Verde Africa/Casablanca Etc/GMT
Europe/London Atlantic/Reykjavik Europe/Berlin Europe/Budapest Europe/Paris Europe/Warsaw
Africa/Lagos Africa/Windhoek Europe/Bucharest Asia/Beirut Africa/Cairo Asia/Damascus
Africa/Johannesburg Europe/Kyiv Europe/Kiev Europe/Istanbul Asia/Jerusalem Asia/Amman
Asia/Baghdad Europe/Kaliningrad Asia/Riyadh Africa/Nairobi Asia/Tehran Asia/Dubai Asia/Baku
Europe/Moscow Indian/Mauritius Asia/Tbilisi Asia/Yerevan Asia/Kabul Asia/Karachi
Asia/Tashkent Asia/Kolkata Asia/Colombo Asia/Kathmandu Asia/Almaty Asia/Dhaka
Asia/Yekaterinburg Asia/Yangon Asia/Rangoon Asia/Bangkok Asia/Novosibirsk Asia/Shanghai
Asia/Krasnoyarsk Asia/Singapore Australia/Perth Asia/Taipei Asia/Ulaanbaatar Asia/Irkutsk
Asia/Tokyo Asia/Seoul Australia/Adelaide Australia/Darwin Australia/Brisbane
Australia/Sydney Pacific/Port_Moresby Australia/Hobart Asia/Yakutsk Pacific/Guadalcanal
Asia/Vladivostok Pacific/Auckland Etc/GMT-12 Pacific/Fiji Asia/Magadan Pacific/Tongatapu
Pacific/Apia Pacific/Kiritimati
""".split())

UTC_NAME = "UTC"


def zone_for(name: object) -> ZoneInfo | None:
    """The zone a Graph time zone name stands for, or None if Graph would not take it."""
    if not isinstance(name, str) or not name:
        return None
    if name == UTC_NAME:
        return ZoneInfo("UTC")
    iana = win_tz.get(name)
    if iana is None and name in DOCUMENTED_IANA:
        iana = name
    if iana is None:
        return None
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def is_windows_name(name: str) -> bool:
    return name in win_tz


def windows_name(iana: str) -> str | None:
    """The Windows name CLDR maps an IANA zone to (None if it maps none)."""
    return tz_win.get(iana)
