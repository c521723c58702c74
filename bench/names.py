"""Word lists for the benchmark data generator (Russian and English).

Kept apart from ``datagen.py`` so the generator reads as logic. Russian
surnames are given in the masculine form; :func:`feminine_surname` makes the
feminine one (Иванов → Иванова, Достоевский → Достоевская). Several names
carry «ё» on purpose: search must find them typed with «е».
"""

from __future__ import annotations

RU_MALE_FIRST = [
    "Александр", "Алексей", "Андрей", "Антон", "Артём", "Борис", "Вадим", "Василий", "Виктор", "Владимир",
    "Дмитрий", "Евгений", "Егор", "Иван", "Игорь", "Илья", "Кирилл", "Константин", "Максим", "Михаил",
    "Никита", "Николай", "Олег", "Павел", "Пётр", "Роман", "Руслан", "Семён", "Сергей", "Станислав",
    "Степан", "Тимур", "Фёдор", "Юрий", "Ярослав", "Глеб", "Григорий", "Денис", "Леонид", "Матвей",
]
RU_FEMALE_FIRST = [
    "Александра", "Алёна", "Алина", "Анастасия", "Анна", "Валентина", "Валерия", "Вера", "Виктория", "Галина",
    "Дарья", "Евгения", "Екатерина", "Елена", "Елизавета", "Жанна", "Зоя", "Инна", "Ирина", "Карина",
    "Кристина", "Ксения", "Лариса", "Людмила", "Маргарита", "Марина", "Мария", "Надежда", "Наталья", "Нина",
    "Оксана", "Ольга", "Полина", "Светлана", "София", "Тамара", "Татьяна", "Ульяна", "Юлия", "Яна",
]
RU_SURNAMES = [
    "Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков", "Фёдоров",
    "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов", "Козлов", "Степанов", "Николаев",
    "Орлов", "Андреев", "Макаров", "Никитин", "Захаров", "Зайцев", "Соловьёв", "Борисов", "Яковлев", "Григорьев",
    "Романов", "Воробьёв", "Сергеев", "Кузьмин", "Фролов", "Александров", "Дмитриев", "Королёв", "Гусев", "Киселёв",
    "Ильин", "Максимов", "Поляков", "Сорокин", "Виноградов", "Ковалёв", "Белов", "Медведев", "Антонов", "Тарасов",
    "Жуков", "Баранов", "Филиппов", "Комаров", "Давыдов", "Беляев", "Герасимов", "Богданов", "Осипов", "Сидоров",
    "Матвеев", "Титов", "Марков", "Миронов", "Крылов", "Куликов", "Карпов", "Власов", "Мельников", "Денисов",
    "Гаврилов", "Тихонов", "Казаков", "Афанасьев", "Данилов", "Савельев", "Тимофеев", "Фомин", "Чернов", "Абрамов",
    "Мартынов", "Ефимов", "Федотов", "Щербаков", "Назаров", "Калинин", "Исаев", "Чернышёв", "Быков", "Маслов",
    "Родионов", "Коновалов", "Лазарев", "Воронин", "Климов", "Филатов", "Пономарёв", "Голубев", "Кудрявцев", "Прохоров",
    "Наумов", "Потапов", "Журавлёв", "Овчинников", "Трофимов", "Леонов", "Соболев", "Ермаков", "Колесников", "Гончаров",
    "Емельянов", "Никифоров", "Грачёв", "Котов", "Гришин", "Ефремов", "Архипов", "Громов", "Кириллов", "Малышев",
    "Панов", "Моисеев", "Румянцев", "Акимов", "Кондратьев", "Бирюков", "Горбунов", "Анисимов", "Ерёмин", "Тихомиров",
    "Галкин", "Лукьянов", "Михеев", "Скворцов", "Юдин", "Белоусов", "Нестеров", "Симонов", "Прокофьев", "Харитонов",
    "Князев", "Цветков", "Левин", "Митрофанов", "Воронов", "Аксёнов", "Софронов", "Мальцев", "Логинов", "Горшков",
    "Савин", "Краснов", "Майоров", "Демидов", "Елисеев", "Рыбаков", "Сафонов", "Плотников", "Дёмин", "Хохлов",
    "Достоевский", "Вишневский", "Ковальский", "Островский", "Покровский", "Раевский", "Троицкий", "Успенский",
    "Шевчук", "Бондаренко", "Ткаченко", "Кравченко", "Ковальчук", "Мельниченко",
]
RU_PATRONYMIC_ROOTS = ["Александров", "Алексеев", "Андреев", "Викторов", "Владимиров", "Дмитриев", "Иванов", "Игорев",
                       "Михайлов", "Николаев", "Олегов", "Павлов", "Петров", "Сергеев", "Юрьев"]

EN_MALE_FIRST = [
    "James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas", "Charles",
    "Daniel", "Matthew", "Anthony", "Mark", "Steven", "Paul", "Andrew", "Joshua", "Kevin", "Brian",
    "George", "Edward", "Ryan", "Jacob", "Oliver", "Harry", "Jack", "Noah", "Liam", "Ethan",
]
EN_FEMALE_FIRST = [
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen",
    "Emily", "Emma", "Olivia", "Sophia", "Charlotte", "Amelia", "Grace", "Chloe", "Hannah", "Laura",
    "Rachel", "Megan", "Rebecca", "Victoria", "Natalie", "Lucy", "Alice", "Julia", "Anna", "Helen",
]
EN_SURNAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor",
    "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson",
    "Hill", "Campbell", "Mitchell", "Roberts", "Carter", "Phillips", "Evans", "Turner", "Parker", "Collins",
    "Edwards", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Morgan", "Cooper", "Peterson", "Reed",
    "Bailey", "Bell", "Kelly", "Howard", "Ward", "Cox", "Richardson", "Wood", "Watson", "Brooks",
    "Bennett", "Gray", "Hughes", "Price", "Sanders", "Myers", "Long", "Ross", "Foster", "Powell",
    "O'Brien", "O'Connor", "McDonald", "MacLeod", "Fitzgerald", "Schmidt", "Müller", "Novak", "Kowalski", "Jensen",
]

RU_POSITIONS = [
    "Генеральный директор", "Коммерческий директор", "Финансовый директор", "ИТ-директор", "Директор по маркетингу",
    "Руководитель отдела закупок", "Менеджер по закупкам", "Главный инженер", "Руководитель проектов",
    "Бренд-менеджер", "Аналитик", "Главный бухгалтер", "Специалист по тендерам", "Руководитель digital-направления",
    "Начальник отдела продаж", "Офис-менеджер", "Юрист", "Технический директор",
]
EN_POSITIONS = [
    "CEO", "CTO", "CFO", "COO", "Head of Procurement", "Procurement Manager", "Marketing Director",
    "Product Manager", "Engineering Manager", "IT Director", "Operations Manager", "Project Manager",
    "VP of Sales", "Head of Digital", "Business Analyst", "Office Manager",
]
RU_DEPARTMENTS = ["Закупки", "ИТ", "Маркетинг", "Бухгалтерия", "Продажи", "Юридический отдел", "Производство", "Тендерный отдел"]
EN_DEPARTMENTS = ["Procurement", "IT", "Marketing", "Finance", "Sales", "Legal", "Operations", "Engineering"]

# Company names: real-sounding Russian brands and generated ones.
RU_BRANDS = [
    "Магнит", "Пятёрочка", "Перекрёсток", "Лента", "Ашан", "ВкусВилл", "Азбука Вкуса", "Спортмастер", "М.Видео",
    "Эльдорадо", "ДНС", "Ситилинк", "Ростелеком", "МТС", "Билайн", "МегаФон", "Сбер", "ВТБ", "Альфа-Банк",
    "Газпром нефть", "Лукойл", "Татнефть", "Северсталь", "НЛМК", "Норникель", "Русал", "РЖД", "Аэрофлот",
    "Почта России", "Озон", "Вайлдберриз", "Авито", "ЦИАН", "Додо Пицца", "Шоколадница", "Теремок", "Русагро",
    "Черкизово", "Мираторг", "Самолёт", "ПИК", "Эталон", "Ёлки-Палки", "Детский мир", "Леруа Мерлен", "Петрович",
]
RU_ROOTS = [
    "Техно", "Строй", "Агро", "Пром", "Энерго", "Транс", "Инвест", "Мед", "Фарм", "Лес", "Север", "Юг", "Урал",
    "Сибирь", "Волга", "Балт", "Дон", "Кама", "Нева", "Алтай", "Байкал", "Ока", "Вектор", "Альфа", "Гранит",
    "Кристалл", "Меридиан", "Горизонт", "Импульс", "Спектр", "Ресурс", "Сфера", "Форум", "Аврора", "Орион",
    "Полюс", "Ёлка", "Берёза", "Сокол", "Олимп", "Феникс", "Атлант", "Бизон", "Восход", "Заря", "Рассвет",
]
RU_TAILS = [
    "Сервис", "Трейд", "Групп", "Холдинг", "Маркет", "Логистик", "Систем", "Софт", "Консалт", "Строй", "Снаб",
    "Комплект", "Проект", "Монтаж", "Пласт", "Металл", "Хим", "Тех", "Лаб", "Медиа", "Девелопмент", "Ритейл",
]
RU_LEGAL = ["ООО", "ООО", "ООО", "АО", "ПАО", "ЗАО", "ИП"]
EN_ADJ = [
    "Acme", "Global", "United", "Pacific", "Atlantic", "Northern", "Blue", "Green", "Red", "Silver", "Golden",
    "Bright", "Rapid", "Prime", "Summit", "Pinnacle", "Apex", "Vertex", "Quantum", "Nova", "Stellar", "Iron",
    "Oak", "Cedar", "Maple", "Harbor", "River", "Lake", "Eagle", "Falcon", "Lion", "Wolf", "Fox", "Delta",
]
EN_NOUN = [
    "Logistics", "Systems", "Solutions", "Technologies", "Dynamics", "Industries", "Foods", "Retail", "Media",
    "Capital", "Partners", "Labs", "Networks", "Software", "Analytics", "Health", "Energy", "Motors", "Materials",
    "Consulting", "Ventures", "Brands", "Digital", "Robotics", "Pharma", "Textiles", "Foods", "Holdings",
]
EN_LEGAL = ["Inc.", "LLC", "Ltd", "Corp.", "GmbH", "Group", "PLC", "S.A."]

RU_CITIES = ["Москва", "Санкт-Петербург", "Новосибирск", "Екатеринбург", "Казань", "Нижний Новгород", "Челябинск",
             "Самара", "Омск", "Ростов-на-Дону", "Уфа", "Красноярск", "Воронеж", "Пермь", "Орёл", "Королёв"]
EN_CITIES = ["London", "New York", "Berlin", "Dubai", "Singapore", "Amsterdam", "Warsaw", "Tallinn", "Boston", "Austin"]

INDUSTRIES = ["Retail", "FinTech", "Healthcare", "Logistics", "Education", "Manufacturing", "Media", "Government", "Other"]

RU_DEAL_TEMPLATES = [
    "Сайт для {b}", "Мобильное приложение {b}", "Внедрение CRM в {b}", "Интеграция 1С для {b}",
    "Аудит ИТ-инфраструктуры {b}", "Техподдержка {b} на год", "Редизайн личного кабинета {b}",
    "Чат-бот для {b}", "Миграция в облако: {b}", "Аналитика продаж для {b}", "Интернет-магазин {b}",
    "Автоматизация склада {b}", "Портал поставщиков {b}", "Обучение сотрудников {b}", "Доработка ERP {b}",
]
EN_DEAL_TEMPLATES = [
    "Website redesign for {b}", "Mobile app for {b}", "CRM rollout at {b}", "Data platform for {b}",
    "Support contract {b}", "Cloud migration for {b}", "E-commerce store for {b}", "Analytics dashboard for {b}",
    "Customer portal for {b}", "QA outsourcing for {b}", "Dedicated team for {b}", "Security audit for {b}",
]
TENDER_SUBJECTS = [
    "поставка серверного оборудования", "разработка портала", "техническая поддержка ИС", "поставка лицензий ПО",
    "модернизация ЦОД", "создание мобильного приложения", "внедрение СЭД", "сопровождение сайта",
    "поставка ноутбуков", "аудит информационной безопасности",
]
SOURCES = ["Сайт", "Email", "Звонок", "Рекомендация", "Выставка", "LinkedIn", "Telegram", "Партнёр", "Тендерная площадка"]
LOSS_REASONS = ["Дорого", "Выбрали конкурента", "Нет бюджета", "Проект заморожен", "Не вышли на ЛПР",
                "Сроки не устроили", "Lost to competitor", "No budget this year"]
SCOPES = ["Дизайн, вёрстка, интеграция с 1С", "Бэкенд и мобильные приложения iOS/Android", "Аудит и план миграции",
          "Discovery phase, MVP, support", "Разработка под ключ", "Поддержка 2-й и 3-й линии"]
DECISION_MAKERS = ["ЛПР: генеральный директор", "ЛПР: ИТ-директор; ЛВР: закупки", "ГПР: совет директоров",
                   "ЛПР: коммерческий директор"]
TAGS = ["VIP", "повторный", "срочно", "партнёр", "export", "тендер", "госзаказ", "enterprise", "SMB", "холодный",
        "тёплый", "горячий", "Москва", "регионы", "EMEA", "upsell", "pilot", "NDA", "ИТ", "ритейл", "финтех",
        "реферал", "выставка-2026", "конференция", "ребрендинг"]
RU_NOTES = [
    "Созвонились, клиент просит КП до пятницы", "Отправил презентацию, ждём обратную связь",
    "ЛПР в отпуске до конца месяца", "Запросили кейсы по ритейлу", "Бюджет согласуют в следующем квартале",
    "Встреча в офисе клиента, обсудили сроки и этапы", "Нужен NDA перед передачей ТЗ",
    "Клиент сравнивает нас с двумя подрядчиками", "Уточнить состав работ и модель оплаты",
    "Перезвонить после совещания у директора",
]
EN_NOTES = [
    "Had a call, they want a proposal by Friday", "Sent the deck, waiting for feedback",
    "Decision maker is on vacation until next month", "Asked for retail case studies",
    "Budget approval next quarter", "Met at their office, discussed timeline and phases",
]
TASK_TEXTS_RU = ["Позвонить клиенту", "Отправить КП", "Уточнить бюджет", "Назначить встречу", "Отправить договор",
                 "Напомнить о счёте", "Подготовить презентацию"]
TASK_TEXTS_EN = ["Call the client", "Send the proposal", "Clarify the budget", "Schedule a meeting", "Send the contract"]
TASK_RESULTS = ["Дозвонился, договорились о встрече", "Не взял трубку", "Отправлено", "Done", "Перенесли на след. неделю"]
USERS = [
    ("Иван Смирнов", "i.smirnov@example.ru"), ("Ольга Кузнецова", "o.kuznetsova@example.ru"),
    ("Дмитрий Волков", "d.volkov@example.ru"), ("Мария Соколова", "m.sokolova@example.ru"),
    ("Алексей Морозов", "a.morozov@example.ru"), ("Семён Королёв", "s.korolev@example.ru"),
    ("John Carter", "j.carter@example.com"), ("Emily Watson", "e.watson@example.com"),
]

_TRANSLIT = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i", "й": "y",
    "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f",
    "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
}


def translit(text: str) -> str:
    """Latin letters/digits for e-mail local parts and domains (ГОСТ-ish)."""
    out = []
    for ch in text.lower():
        if ch in _TRANSLIT:
            out.append(_TRANSLIT[ch])
        elif ch.isascii() and ch.isalnum():
            out.append(ch)
        elif ch == "ü":
            out.append("u")
    return "".join(out)


def feminine_surname(surname: str) -> str:
    if surname.endswith(("ский", "цкий")):
        return surname[:-2] + "ая"
    if surname.endswith(("ов", "ев", "ёв", "ин", "ын")):
        return surname + "а"
    return surname  # Шевчук, Бондаренко: the same for both


def patronymic(root: str, female: bool) -> str:
    # Иванов -> Иванович / Ивановна; Игорев -> Игоревич / Игоревна
    return root + ("на" if female else "ич")
