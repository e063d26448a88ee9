"""A small labelled set for the knowledge-base suggestions: articles, and requests paired with their answer.

Written by hand in the words customers of a Czech/Slovak software house use
(diacritics sometimes missing, word forms varying). `None`: no article answers it.
"""

from __future__ import annotations

ARTICLES: list[tuple[str, str, str]] = [  # (key, language, title + body)
    ("printer", "cs", "Tiskárna netiskne\nKdyž tiskárna netiskne nebo tisk visí ve frontě, restartujte službu "
                      "Zařazování tisku a zkontrolujte, že je tiskárna zapnutá a připojená."),
    ("invoice-pdf", "cs", "Faktura se neotevře v PDF\nFaktury v PDF otevřete v aktuálním prohlížeči. Pokud se "
                          "faktura neotevře, stáhněte ji a otevřete v prohlížeči PDF."),
    ("password-cs", "cs", "Zapomenuté heslo do portálu\nNové heslo do zákaznického portálu si nastavíte odkazem "
                          "Zapomenuté heslo na přihlašovací stránce."),
    ("vpn-sk", "sk", "VPN sa nepripojí\nAk sa VPN klient nepripojí, skontrolujte heslo, čas v počítači a či nemáte "
                     "zablokovaný port 443."),
    ("payroll-export", "cs", "Export mezd do banky\nExport mezd do banky vytvoříte v menu Mzdy, Export, Platební "
                             "příkazy. Soubor nahrajte do internetového bankovnictví."),
    ("licence-renew", "cs", "Prodloužení licence\nLicenci prodloužíte objednávkou na další rok; nový licenční klíč "
                            "zadáte v menu Nápověda, Licence."),
    ("backup", "sk", "Záloha databázy\nZálohu databázy spustíte v menu Správa, Záloha. Zálohy ukladajte mimo "
                     "server."),
    ("password-en", "en", "Reset your portal password\nTo reset your password for the customer portal, use the "
                          "Forgotten password link on the sign-in page."),
    ("email-en", "en", "Emails from the system do not arrive\nIf notification emails do not arrive, check the spam "
                       "folder and the SMTP settings under Administration, Mail."),
    ("update-cs", "cs", "Instalace aktualizace\nAktualizaci programu nainstalujete jako správce; před instalací "
                        "zavřete program na všech počítačích."),
]

REQUESTS: list[tuple[str, str, str | None]] = [  # (language, subject + first lines, key of the answer)
    ("cs", "Tiskárna netiskne\nOd rána nám tiskárna netiskne, dokumenty zůstávají ve frontě.", "printer"),
    ("cs", "tiskarna nefunguje\nnemuzeme tisknout, tiskarna je zapnuta", "printer"),
    ("cs", "Tisk visí ve frontě\nVšechny tisky visí ve frontě tisku.", "printer"),
    ("cs", "Nejde tisknout faktury\nTiskárna v účtárně netiskne.", "printer"),
    ("cs", "Faktura nejde otevřít\nFakturu v PDF nelze otevřít, prohlížeč hlásí chybu.", "invoice-pdf"),
    ("cs", "PDF faktury\nNeotevře se nám žádná faktura ve formátu PDF.", "invoice-pdf"),
    ("cs", "faktury pdf\nfakturou v pdf se nic nestane, neotevre se", "invoice-pdf"),
    ("sk", "Faktúra v PDF\nFaktúra sa neotvorí v PDF prehliadači.", "invoice-pdf"),
    ("cs", "Zapomněla jsem heslo\nZapomněla jsem heslo do zákaznického portálu.", "password-cs"),
    ("cs", "heslo portal\nnevim heslo do portalu, jak ho zmenit?", "password-cs"),
    ("cs", "Nové heslo\nPotřebuji nové heslo do portálu.", "password-cs"),
    ("sk", "VPN nefunguje\nVPN klient sa nepripojí, hlási chybu pripojenia.", "vpn-sk"),
    ("sk", "vpn sa nepripaja\nod vcera sa nepripojime cez vpn", "vpn-sk"),
    ("cs", "Nejde VPN\nVPN se nepřipojí z domova.", "vpn-sk"),
    ("cs", "Export mezd\nJak udělat export mezd do banky?", "payroll-export"),
    ("cs", "platební příkazy mzdy\nPotřebujeme vytvořit platební příkazy pro mzdy.", "payroll-export"),
    ("cs", "Mzdy do banky\nKde najdu export mezd pro internetové bankovnictví?", "payroll-export"),
    ("sk", "Export miezd\nAko exportovať mzdy do banky?", "payroll-export"),
    ("cs", "Licence končí\nNaše licence končí, jak ji prodloužit?", "licence-renew"),
    ("cs", "licencni klic\nKam zadat nový licenční klíč?", "licence-renew"),
    ("cs", "Prodloužení licence\nChceme prodloužit licenci na další rok.", "licence-renew"),
    ("sk", "Záloha databázy\nAko spustiť zálohu databázy?", "backup"),
    ("sk", "zaloha\npotrebujeme zalohovat databazu pred aktualizaciou", "backup"),
    ("cs", "Záloha dat\nJak zálohovat databázi?", "backup"),
    ("en", "Forgot my password\nI forgot my password for the customer portal.", "password-en"),
    ("en", "Password reset\nHow do I reset the portal password?", "password-en"),
    ("en", "Cannot sign in\nI need a new password for the portal sign-in.", "password-en"),
    ("en", "Emails not arriving\nNotification emails from the system do not arrive.", "email-en"),
    ("en", "No mail from the app\nWe get no emails from the system any more, not even in spam.", "email-en"),
    ("en", "SMTP settings\nWhere are the SMTP settings for outgoing mail?", "email-en"),
    ("cs", "Aktualizace programu\nJak nainstalovat aktualizaci programu?", "update-cs"),
    ("cs", "instalace aktualizace selhala\nPři instalaci aktualizace program hlásí, že běží.", "update-cs"),
    ("cs", "Nová verze\nKdy a jak nainstalovat aktualizaci na všech počítačích?", "update-cs"),
    ("sk", "Aktualizácia\nAko nainštalovať aktualizáciu programu?", "update-cs"),
    ("cs", "Tiskne prázdné stránky\nTiskárna tiskne jen prázdné stránky.", "printer"),
    ("cs", "Objednávka školení\nRádi bychom objednali školení pro nové kolegy.", None),
    ("cs", "Změna fakturační adresy\nProsím o změnu naší adresy v kontaktech.", None),
    ("sk", "Stretnutie budúci týždeň\nMôžeme sa stretnúť v utorok?", None),
    ("en", "Quote for 20 more users\nPlease send us a quote for twenty additional users.", None),
    ("en", "Office move\nWe are moving to a new office in January.", None),
    ("cs", "Poděkování\nDěkujeme za rychlou pomoc minulý týden.", None),
    ("cs", "Klimatizace v serverovně\nV serverovně je horko, klimatizace hlučí.", None),
    ("sk", "Nový kolega\nPosielam kontakt na nového kolegu z účtovníctva.", None),
    ("en", "Invoice for October missing\nWe did not receive your October bill.", None),
    ("cs", "Dotaz na cenu\nKolik stojí modul Sklad?", None),
]
