"""The catalogue of known sounds: every scene bed and one-shot with its keywords (English and
Chinese), nominal durations, fallbacks, and the public keyword tables derived from them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nodes.ambience.backends.procedural.beds_manmade import (
    _bed_cafe,
    _bed_car,
    _bed_room_tone,
    _bed_traffic,
    _bed_train,
)
from nodes.ambience.backends.procedural.beds_nature import (
    _bed_fire,
    _bed_forest,
    _bed_insects,
    _bed_ocean,
    _bed_rain,
    _bed_river,
    _bed_thunderstorm,
    _bed_wind,
)
from nodes.ambience.backends.procedural.blocks import _Ctx
from nodes.ambience.backends.procedural.oneshots import (
    _sfx_alarm,
    _sfx_bell,
    _sfx_click,
    _sfx_door_creak,
    _sfx_door_knock,
    _sfx_footsteps,
    _sfx_glass_clink,
    _sfx_glass_shatter,
    _sfx_gunshot,
    _sfx_impact,
    _sfx_phone_ring,
    _sfx_siren,
    _sfx_splash,
    _sfx_thunder_clap,
    _sfx_typing,
    _sfx_whoosh,
)


def _kw(text: str) -> tuple[str, ...]:
    """Keywords written as one comma-separated string."""
    return tuple(word.strip() for word in text.split(","))


@dataclass(frozen=True)
class _Scene:
    name: str
    keywords: tuple[str, ...]
    render: Callable[[_Ctx, np.ndarray, float], None]


@dataclass(frozen=True)
class _OneShot:
    name: str
    keywords: tuple[str, ...]  # specific: win over any generic keyword
    nominal_s: float
    render: Callable[[_Ctx, int], np.ndarray]
    generic: tuple[str, ...] = ()  # used only when no specific keyword matches ("door", "glass")


_SCENES: tuple[_Scene, ...] = (
    _Scene(
        "rain",
        _kw("rain, rainy, raining, rainfall, drizzle, drizzling, downpour, tin roof, 雨, 下雨, 雨声"),
        _bed_rain,
    ),
    _Scene(
        "thunderstorm",
        _kw("thunder, thunderstorm, thunderstorms, lightning, 雷, 雷声, 雷雨, 打雷, 闪电"),
        _bed_thunderstorm,
    ),
    _Scene(
        "wind",
        _kw("wind, windy, winds, breeze, breezy, gust, gusts, gale, blizzard, 风, 风声, 大风, 微风"),
        _bed_wind,
    ),
    _Scene(
        "ocean",
        _kw("ocean, sea, seaside, waves, wave, beach, shore, surf, coast, 海, 海浪, 海边, 浪, 沙滩"),
        _bed_ocean,
    ),
    _Scene(
        "river",
        _kw("river, stream, brook, creek, running water, babbling, 河, 小河, 溪, 小溪, 流水, 江"),
        _bed_river,
    ),
    _Scene(
        "fire",
        _kw("fire, fireplace, campfire, bonfire, hearth, flames, crackling, 火, 篝火, 壁炉, 火堆"),
        _bed_fire,
    ),
    _Scene(
        "forest",
        _kw("forest, woods, woodland, bird, birds, birdsong, jungle, park, 鸟, 鸟鸣, 森林, 树林"),
        _bed_forest,
    ),
    _Scene(
        "insects",
        _kw(
            "insects, insect, crickets, cricket, cicadas, cicada, katydid, night insects, 虫, 虫鸣, 蟋蟀, 蝉, 夏夜"
        ),
        _bed_insects,
    ),
    _Scene(
        "traffic",
        _kw(
            "traffic, city, street, streets, cars, road, highway, urban, downtown, 街, 街道, 城市, 交通, 马路, 车流"
        ),
        _bed_traffic,
    ),
    _Scene(
        "cafe",
        _kw(
            "cafe, café, coffee, coffee shop, restaurant, crowd, chatter, bar, pub, diner, canteen, 咖啡, 咖啡馆, 咖啡厅, 餐厅, 人群, 酒吧"
        ),
        _bed_cafe,
    ),
    _Scene(
        "room_tone",
        _kw(
            "room tone, roomtone, office, room, indoors, indoor, hvac, air conditioning, 办公室, 房间, 室内, 安静"
        ),
        _bed_room_tone,
    ),
    _Scene(
        "train",
        _kw("train, railway, railroad, subway, metro, carriage, tram, 火车, 地铁, 列车, 高铁, 车厢"),
        _bed_train,
    ),
    _Scene(
        "car",
        _kw("car, car interior, in the car, driving, taxi, vehicle, 车, 汽车, 车内, 开车, 出租车"),
        _bed_car,
    ),
)

FALLBACK_SCENE = "room_tone"

_ONE_SHOTS: tuple[_OneShot, ...] = (
    _OneShot("door_knock", _kw("knock, knocks, knocking, knocked, 敲门, 敲"), 0.9, _sfx_door_knock),
    _OneShot(
        "door_creak",
        _kw("creak, creaks, creaking, creaky, squeak, squeaky, hinge, 吱呀, 吱"),
        1.8,
        _sfx_door_creak,
        _kw("door, doors, 门, 开门"),
    ),
    _OneShot(
        "footsteps", _kw("footsteps, footstep, steps, walking, walk, 脚步, 脚步声, 走路"), 2.5, _sfx_footsteps
    ),
    _OneShot(
        "phone_ring",
        _kw("phone, telephone, cellphone, ringtone, 电话, 手机, 来电"),
        3.0,
        _sfx_phone_ring,
        _kw("ring, ringing, 铃声"),
    ),
    _OneShot(
        "bell",
        _kw("bell, bells, doorbell, church bell, chime, chimes, gong, toll, 钟, 钟声, 门铃, 铃铛"),
        4.0,
        _sfx_bell,
        _kw("铃"),
    ),
    _OneShot(
        "thunder_clap",
        _kw("thunder, thunderclap, thunder clap, lightning, 雷, 雷声, 打雷, 霹雳"),
        5.0,
        _sfx_thunder_clap,
    ),
    _OneShot(
        "glass_clink",
        _kw("clink, clinking, toast, cheers, 碰杯, 叮"),
        0.9,
        _sfx_glass_clink,
        _kw("glass, glasses, wine glass, 玻璃, 杯"),
    ),
    _OneShot(
        "glass_shatter",
        _kw(
            "shatter, shatters, shattering, shattered, smash, smashing, smashed, break, breaks, breaking, broken, 碎, 打碎, 摔碎, 破碎"
        ),
        2.0,
        _sfx_glass_shatter,
    ),
    _OneShot(
        "click",
        _kw(
            "click, clicks, clicking, switch, light switch, lock, unlock, latch, camera, button, 咔, 咔嚓, 咔哒, 开关, 按钮, 锁"
        ),
        0.15,
        _sfx_click,
    ),
    _OneShot(
        "whoosh",
        _kw("whoosh, swoosh, woosh, swish, swoop, swipe, flyby, fly by, 嗖, 嗖嗖, 呼啸"),
        1.0,
        _sfx_whoosh,
    ),
    _OneShot(
        "alarm",
        _kw("alarm, alarm clock, beep, beeps, beeping, buzzer, 警报, 闹钟, 哔, 蜂鸣"),
        2.0,
        _sfx_alarm,
    ),
    _OneShot("siren", _kw("siren, sirens, police, ambulance, 警笛, 警车, 救护车"), 4.0, _sfx_siren),
    _OneShot(
        "gunshot",
        _kw("gunshot, gunshots, gun, shot, shots, gunfire, pistol, rifle, bang, 枪, 枪声, 开枪"),
        1.5,
        _sfx_gunshot,
    ),
    _OneShot(
        "splash",
        _kw("splash, splashing, splashes, plop, dive, 水花, 扑通, 溅, 落水"),
        1.2,
        _sfx_splash,
        _kw("water, 水"),
    ),
    _OneShot("typing", _kw("typing, keyboard, typewriter, keystrokes, 打字, 键盘"), 3.0, _sfx_typing),
    _OneShot(
        "impact", _kw("thud, impact, hit, bump, punch, slam, drop, fall, 撞, 砰, 关门, 摔"), 0.6, _sfx_impact
    ),
)

FALLBACK_SFX = "impact"

_SCENE_BY_NAME = {s.name: s for s in _SCENES}
_ONE_SHOT_BY_NAME = {o.name: o for o in _ONE_SHOTS}

SCENE_KEYWORDS: dict[str, tuple[str, ...]] = {s.name: s.keywords for s in _SCENES}
SFX_KEYWORDS: dict[str, tuple[str, ...]] = {o.name: o.keywords + o.generic for o in _ONE_SHOTS}
SFX_NOMINAL_S: dict[str, float] = {o.name: o.nominal_s for o in _ONE_SHOTS}
