"""Demo staff (one known password, a login for every role) and a spread of traders."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

from sqlalchemy.orm import Session

from hashdesk.accounts.actions import check_create_agent, do_create_agent, do_upsert_trader
from hashdesk.accounts.models import Agent, Trader
from hashdesk.accounts.queries import agent_principal, get_agent_by_email
from hashdesk.accounts.schemas import AgentCreate, TraderUpsert
from hashdesk.core.auth import SYSTEM, Role, hash_password

DEMO_PASSWORD = "hashdesk-demo"  # noqa: S105 - documented on purpose: every demo login uses it
STAFF_DOMAIN = "desk.example.com"


@dataclass(frozen=True)
class StaffMember:
    email: str
    name: str
    role: Role
    department: str
    languages: tuple[str, ...]


# The first member of each role has the role in the address, so the banner's logins are easy
# to remember. Languages cover the traders' most common ones.
STAFF: tuple[StaffMember, ...] = (
    StaffMember("admin@desk.example.com", "Alex Admin", Role.ADMIN, "frontline", ("en",)),
    StaffMember("lead@desk.example.com", "Grace Okafor", Role.LEAD, "frontline", ("en", "fr")),
    StaffMember("frontline@desk.example.com", "Emma Clarke", Role.FRONTLINE, "frontline", ("en", "es")),
    StaffMember("li.wei@desk.example.com", "Li Wei", Role.FRONTLINE, "frontline", ("zh-Hans", "zh-Hant", "en")),
    StaffMember("minjun.kim@desk.example.com", "Kim Min-jun", Role.FRONTLINE, "frontline", ("ko", "en")),
    StaffMember("olga.petrova@desk.example.com", "Olga Petrova", Role.FRONTLINE, "frontline", ("ru", "uk", "en")),
    StaffMember("mehmet.yilmaz@desk.example.com", "Mehmet Yılmaz", Role.FRONTLINE, "frontline", ("tr", "en")),
    StaffMember("lan.nguyen@desk.example.com", "Nguyễn Thị Lan", Role.FRONTLINE, "frontline", ("vi", "en")),
    StaffMember("lucas.almeida@desk.example.com", "Lucas Almeida", Role.FRONTLINE, "frontline", ("pt", "es", "en")),
    StaffMember("yuki.tanaka@desk.example.com", "Yuki Tanaka", Role.FRONTLINE, "frontline", ("ja", "en")),
    StaffMember("sophie.martin@desk.example.com", "Sophie Martin", Role.FRONTLINE, "frontline", ("fr", "de", "en")),
    StaffMember("technician@desk.example.com", "Arjun Mehta", Role.TECHNICIAN, "blockchain", ("en",)),
    StaffMember("dmitri.volkov@desk.example.com", "Dmitri Volkov", Role.TECHNICIAN, "blockchain", ("ru", "en")),
    StaffMember("hannah.becker@desk.example.com", "Hannah Becker", Role.TECHNICIAN, "engineering", ("de", "en")),
    StaffMember("diego.ruiz@desk.example.com", "Diego Ruiz", Role.TECHNICIAN, "engineering", ("es", "pt", "en")),
    StaffMember("futures@desk.example.com", "Chen Jie", Role.TECHNICIAN, "futures", ("zh-Hans", "en")),
    StaffMember("account-manager@desk.example.com", "Park Ji-woo", Role.ACCOUNT_MANAGER, "vip", ("ko", "en")),
    StaffMember("isabella.rossi@desk.example.com", "Isabella Rossi", Role.ACCOUNT_MANAGER, "vip", ("it", "en", "es")),
    StaffMember("community@desk.example.com", "Tomás García", Role.COMMUNITY, "security", ("es", "en")),
    StaffMember("security@desk.example.com", "Noah Fischer", Role.SECURITY, "security", ("en", "de")),
)  # fmt: skip


def demo_logins() -> dict[Role, str]:
    """One email per role (the first staff member of each), for the banner."""
    logins: dict[Role, str] = {}
    for member in STAFF:
        logins.setdefault(member.role, member.email)
    return logins


def create_staff(session: Session) -> list[Agent]:
    """The admin is created by the system; everyone else by that admin, as an operator would."""
    admin_member, *others = STAFF
    shared_hash = hash_password(DEMO_PASSWORD)  # argon2 is slow on purpose: hash once
    admin = get_agent_by_email(session, admin_member.email) or do_create_agent(
        session, SYSTEM, _agent_data(admin_member), password_hash=shared_hash
    )
    staff = [admin]
    for member in others:
        existing = get_agent_by_email(session, member.email)
        staff.append(
            existing
            or check_create_agent(
                session, agent_principal(admin), _agent_data(member), password_hash=shared_hash
            )
        )
    return staff


def _agent_data(member: StaffMember) -> AgentCreate:
    return AgentCreate(
        email=member.email,
        name=member.name,
        role=member.role,
        department=member.department,
        languages=list(member.languages),
        password=DEMO_PASSWORD,
    )


# --- traders -----------------------------------------------------------------------------------

# language -> (weight, countries (ISO 3166-1 alpha-2) where its speakers trade from)
LANGUAGE_MIX: dict[str, tuple[float, tuple[str, ...]]] = {
    "en": (22, ("US", "GB", "NG", "IN", "PH", "AU", "CA", "SG", "ZA", "KE")),
    "zh-Hans": (10, ("SG", "MY", "CN")),
    "ko": (8, ("KR",)),
    "ru": (8, ("RU", "KZ", "BY", "UZ")),
    "tr": (7, ("TR",)),
    "vi": (7, ("VN",)),
    "es": (6, ("ES", "MX", "AR", "CO", "VE", "CL")),
    "pt": (5, ("BR", "PT")),
    "ja": (4, ("JP",)),
    "id": (4, ("ID",)),
    "fr": (3, ("FR", "BE", "CI", "MA", "CA")),
    "de": (3, ("DE", "AT", "CH")),
    "uk": (2.5, ("UA",)),
    "zh-Hant": (2, ("TW", "HK")),
    "th": (2, ("TH",)),
    "ar": (2, ("AE", "SA", "EG")),
    "it": (1.5, ("IT",)),
    "fa": (1, ("AE", "TR", "DE")),
}
VIP_WEIGHTS = (82, 7, 4, 2.5, 1.5, 1, 0.8, 0.5, 0.4, 0.3)  # levels 0..9
KYC_WEIGHTS = (8, 40, 45, 7)  # levels 0..3
ANTI_PHISHING_SHARE = 0.35

# language -> (given names, family names, family name first?)
NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...], bool]] = {
    "en": (("James", "Olivia", "Chinedu", "Priya", "Daniel", "Grace", "Marco", "Aisha"),
           ("Smith", "Johnson", "Okoye", "Sharma", "Brown", "Reyes", "Taylor", "Walker"), False),
    "zh-Hans": (("伟", "芳", "磊", "静", "涛", "敏", "杰", "丽"), ("王", "李", "张", "刘", "陈", "杨"), True),
    "zh-Hant": (("志明", "淑芬", "家豪", "怡君", "冠宇"), ("陳", "林", "黃", "張", "吳"), True),
    "ko": (("민준", "서연", "지훈", "하은", "도윤", "수빈"), ("김", "이", "박", "최", "정"), True),
    "ru": (("Алексей", "Мария", "Дмитрий", "Анна", "Сергей", "Екатерина"),
           ("Иванов", "Смирнов", "Кузнецов", "Попов", "Соколов"), False),
    "uk": (("Олександр", "Олена", "Андрій", "Ірина"), ("Шевченко", "Коваленко", "Бондаренко"), False),
    "tr": (("Emre", "Elif", "Burak", "Zeynep", "Can", "Ayşe"), ("Yılmaz", "Kaya", "Demir", "Şahin", "Çelik"), False),
    "vi": (("Minh", "Lan", "Hùng", "Trang", "Dũng", "Thảo"), ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng"), True),
    "es": (("Carlos", "Lucía", "Javier", "Valentina", "Mateo", "Camila"),
           ("García", "Rodríguez", "Martínez", "López", "Fernández"), False),
    "pt": (("João", "Ana", "Pedro", "Beatriz", "Gabriel", "Larissa"), ("Silva", "Santos", "Oliveira", "Souza", "Costa"), False),
    "ja": (("翔", "美咲", "健太", "結衣", "大輔"), ("佐藤", "鈴木", "高橋", "田中", "伊藤"), True),
    "id": (("Budi", "Siti", "Agus", "Dewi", "Rizky"), ("Santoso", "Wijaya", "Pratama", "Saputra"), False),
    "fr": (("Lucas", "Camille", "Hugo", "Léa", "Moussa"), ("Martin", "Bernard", "Dubois", "Diallo"), False),
    "de": (("Lukas", "Anna", "Felix", "Laura", "Jonas"), ("Müller", "Schmidt", "Schneider", "Weber"), False),
    "th": (("สมชาย", "สุดา", "วิชัย", "นภา"), ("ศรีสุข", "วงศ์ใหญ่", "แก้วมณี"), False),
    "ar": (("محمد", "فاطمة", "أحمد", "مريم", "خالد"), ("العلي", "الحسن", "المنصوري", "الشمري"), False),
    "it": (("Marco", "Giulia", "Luca", "Chiara"), ("Rossi", "Russo", "Ferrari", "Esposito"), False),
    "fa": (("علی", "زهرا", "رضا", "مریم"), ("احمدی", "محمدی", "حسینی"), False),
}  # fmt: skip
UNSPACED_NAMES = frozenset({"zh-Hans", "zh-Hant", "ja"})
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")


@dataclass(frozen=True)
class TraderProfile:
    external_id: str
    data: TraderUpsert


def trader_profiles(rng: random.Random, count: int) -> list[TraderProfile]:
    languages = list(LANGUAGE_MIX)
    weights = [LANGUAGE_MIX[code][0] for code in languages]
    return [_profile(rng, index, rng.choices(languages, weights)[0]) for index in range(count)]


def _profile(rng: random.Random, index: int, language: str) -> TraderProfile:
    given, family, family_first = NAMES[language]
    first, last = rng.choice(given), rng.choice(family)
    if not family_first:
        name = f"{first} {last}"
    else:
        name = f"{last}{'' if language in UNSPACED_NAMES else ' '}{first}"
    vip = rng.choices(range(10), VIP_WEIGHTS)[0]
    kyc = max(rng.choices(range(4), KYC_WEIGHTS)[0], 2 if vip else 0)
    # Exchange UIDs are opaque numbers; a stride keeps them unique without a lookup.
    external_id = str(21_000_000 + index * 7_919)
    data = TraderUpsert(
        email=f"trader{external_id}@{rng.choice(EMAIL_DOMAINS)}",
        name=name,
        region=rng.choice(LANGUAGE_MIX[language][1]),
        language=language,
        vip_level=vip,
        kyc_level=kyc,
        anti_phishing_code=_anti_phishing_code(rng) if rng.random() < ANTI_PHISHING_SHARE else None,
    )
    return TraderProfile(external_id, data)


def _anti_phishing_code(rng: random.Random) -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(6, 10)))


def create_trader(session: Session, profile: TraderProfile) -> Trader:
    return do_upsert_trader(session, profile.external_id, profile.data)
