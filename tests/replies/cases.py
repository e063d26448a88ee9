"""The reply cases of tests/replies/: what each client writes, and the exact text a reader must get.

`build.py` writes every case as NAME.eml + NAME.expected.txt, so the pairs can
be read, diffed and reused without this file. A case combines an answer in
some language with the quote header a real client in that language writes,
posted above (top) or below (bottom) the quoted history.
"""

from __future__ import annotations

ANSWERS = {
    "cs": "Dobrý den,\n\ntiskárnu jsme restartovali, faktury se už tisknou.\nDejte prosím vědět, kdyby to znovu selhalo.\n\nS pozdravem\nJana Nováková",
    "sk": "Dobrý deň,\n\ntlačiareň sme reštartovali, faktúry sa už tlačia.\nDajte nám prosím vedieť, keby to znova zlyhalo.\n\nS pozdravom\nJana Nováková",
    "en": "Hello,\n\nwe restarted the print service and the invoices print again.\nPlease tell us if it fails once more.\n\nBest regards\nJane",
    "de": "Guten Tag,\n\nwir haben den Druckdienst neu gestartet, die Rechnungen werden wieder gedruckt.\n\nMit freundlichen Grüßen\nHans",
    "fr": "Bonjour,\n\nnous avons redémarré le service d'impression, les factures s'impriment à nouveau.\n\nCordialement\nJean",
    "es": "Hola,\n\nhemos reiniciado el servicio de impresión y las facturas ya se imprimen.\n\nSaludos\nJuan",
    "it": "Buongiorno,\n\nabbiamo riavviato il servizio di stampa, le fatture si stampano di nuovo.\n\nCordiali saluti\nMario",
    "pt": "Olá,\n\nreiniciámos o serviço de impressão e as faturas já imprimem.\n\nCumprimentos\nJoão",
    "nl": "Hallo,\n\nwe hebben de printservice herstart, de facturen worden weer afgedrukt.\n\nMet vriendelijke groet\nJan",
    "pl": "Dzień dobry,\n\nzrestartowaliśmy usługę drukowania, faktury znowu się drukują.\n\nPozdrawiam\nJan",
    "da": "Hej,\n\nvi har genstartet printtjenesten, og fakturaerne bliver udskrevet igen.\n\nMed venlig hilsen\nLars",
    "sv": "Hej,\n\nvi har startat om utskriftstjänsten och fakturorna skrivs ut igen.\n\nMed vänliga hälsningar\nAnna",
    "no": "Hei,\n\nvi har startet utskriftstjenesten på nytt, og fakturaene skrives ut igjen.\n\nMed vennlig hilsen\nOla",
    "fi": "Hei,\n\nkäynnistimme tulostuspalvelun uudelleen, ja laskut tulostuvat taas.\n\nYstävällisin terveisin\nMatti",
    "ru": "Здравствуйте,\n\nмы перезапустили службу печати, счета снова печатаются.\n\nС уважением\nИван",
    "hu": "Jó napot,\n\nújraindítottuk a nyomtatási szolgáltatást, a számlák újra nyomtatódnak.\n\nÜdvözlettel\nPéter",
    "ja": "こんにちは、\n\n印刷サービスを再起動しました。請求書は再び印刷されます。\n\nよろしくお願いします\n山田",
    "zh": "您好，\n\n我们已重启打印服务，发票可以重新打印了。\n\n此致\n张伟",
}

QUOTED = ["The invoices do not print since this morning.", "The printer says: Error E-42.", "",
          "Thanks, Alice"]

# (name, language, header lines, style): style "gt" = the history is quoted with "> ",
# "plain" = the history follows unquoted (Outlook and webmail header blocks).
HEADERS = [
    ("thunderbird", "cs", ["Dne 16. 11. 2026 v 9:00 Jan Novák napsal(a):"], "gt"),
    ("thunderbird", "sk", ["Dňa 16. 11. 2026 o 9:00 Ján Novák napísal(a):"], "gt"),
    ("gmail-web", "cs", ["po 16. 11. 2026 v 9:00 odesílatel Jan Novák <jan@acme.cz> napsal:"], "gt"),
    ("gmail-web", "sk", ["po 16. 11. 2026 o 9:00 Ján Novák <jan@acme.sk> napísal(a):"], "gt"),
    ("gmail-android", "cs", ["Dne po 16. 11. 2026 9:00 uživatel Jan Novák <jan@acme.cz>", "napsal:"], "gt"),
    ("apple-mail", "cs", ["Dne 16. 11. 2026, v 9:00, Jan Novák <jan@acme.cz> napsal(a):"], "gt"),
    ("ios", "cs", ["16. 11. 2026 v 9:00, Jan Novák <jan@acme.cz>:"], "gt"),
    ("ios", "sk", ["16. 11. 2026 o 9:00, Ján Novák <jan@acme.sk>:"], "gt"),
    ("roundcube", "cs", ["Dne 16.11.2026 09:00, Jan Novák napsal:"], "gt"),
    ("roundcube", "sk", ["Dňa 16.11.2026 09:00 Ján Novák napísal:"], "gt"),
    ("outlook-desktop", "cs", ["Od: Jan Novák <jan@acme.cz>", "Odesláno: pondělí 16. listopadu 2026 9:00",
                               "Komu: podpora@example.cz", "Předmět: RE: Tiskárna"], "plain"),
    ("outlook-desktop", "sk", ["Od: Ján Novák <jan@acme.sk>", "Odoslané: pondelok 16. novembra 2026 9:00",
                               "Komu: podpora@example.sk", "Predmet: RE: Tlačiareň"], "plain"),
    ("outlook-web", "cs", ["________________________________", "Od: Jan Novák <jan@acme.cz>",
                           "Odesláno: pondělí 16. listopadu 2026 9:00", "Komu: podpora@example.cz",
                           "Předmět: Tiskárna"], "plain"),
    ("outlook-bold", "cs", ["*Od:* Jan Novák <jan@acme.cz>", "*Odesláno:* pondělí 16. listopadu 2026 9:00",
                            "*Komu:* podpora@example.cz", "*Předmět:* Tiskárna"], "plain"),
    ("outlook-indented", "sk", ["  Od: Ján Novák <jan@acme.sk>", "  Dátum: 16. 11. 2026 9:00",
                                "  Komu: podpora@example.sk", "  Predmet: Tlačiareň"], "plain"),
    ("seznam", "cs", ["---------- Původní e-mail ----------", "Od: Jan Novák <jan@seznam.cz>",
                      "Komu: podpora@example.cz", "Datum: 16. 11. 2026 9:00:00", "Předmět: Tiskárna"], "plain"),
    ("centrum", "cs", ["______________________________________________________________",
                       "> Od: Jan Novák <jan@centrum.cz>", "> Komu: podpora@example.cz",
                       "> Datum: 16.11.2026 09:00", "> Předmět: Tiskárna"], "gt"),
    ("zimbra", "cs", ["----- Původní zpráva -----", "Od: \"Jan Novák\" <jan@acme.cz>",
                      "Komu: podpora@example.cz", "Odesláno: Pondělí, 16. listopad 2026 9:00:00",
                      "Předmět: Tiskárna"], "plain"),
    ("zimbra", "sk", ["----- Pôvodná správa -----", "Od: \"Ján Novák\" <jan@acme.sk>",
                      "Komu: podpora@example.sk", "Odoslané: Pondelok, 16. november 2026 9:00:00",
                      "Predmet: Tlačiareň"], "plain"),
    ("atlas", "sk", ["-------- Pôvodná správa --------", "Od: Ján Novák <jan@atlas.sk>",
                     "Dátum: 16. 11. 2026 9:00", "Predmet: Tlačiareň"], "plain"),
    ("gmail-web", "en", ["On Mon, Nov 16, 2026 at 9:00 AM John Smith <john@acme.com> wrote:"], "gt"),
    ("outlook-desktop", "en", ["From: John Smith <john@acme.com>", "Sent: Monday, November 16, 2026 9:00 AM",
                               "To: support@example.com", "Subject: RE: Printer"], "plain"),
    ("original-message", "en", ["-----Original Message-----", "From: John Smith [mailto:john@acme.com]",
                                "Sent: Monday, November 16, 2026 9:00 AM", "To: support@example.com",
                                "Subject: Printer"], "plain"),
    ("reply-message", "en", ["----- Reply Message -----", "From: John Smith <john@acme.com>",
                             "Date: 11/16/2026 09:00", "Subject: Printer"], "plain"),
    ("android-dashes", "en", ["---- On Mon, 16 Nov 2026 09:00:00 +0100 John Smith <john@acme.com> wrote ----"], "gt"),
    ("yahoo-dashes", "en", ["------On Mon, Nov 16, 2026 at 9:00 AM, John Smith <john@acme.com> wrote-----"], "gt"),
    ("date-only", "en", ["2026-11-16 9:00 GMT+01:00 John Smith <john@acme.com>:"], "gt"),
    ("date-only-wrapped", "en", ["2026-11-16 9:00 GMT+01:00 John Smith <", "john@acme.com>:"], "gt"),
    ("gmail-web", "de", ["Am Mo., 16. Nov. 2026 um 09:00 Uhr schrieb Hans Müller <hans@firma.de>:"], "gt"),
    ("outlook-desktop", "de", ["Von: Hans Müller <hans@firma.de>", "Gesendet: Montag, 16. November 2026 09:00",
                               "An: support@example.de", "Betreff: AW: Drucker"], "plain"),
    ("original-message", "de", ["-----Ursprüngliche Nachricht-----", "Von: Hans Müller <hans@firma.de>",
                                "Gesendet: Montag, 16. November 2026 09:00", "An: support@example.de",
                                "Betreff: Drucker"], "plain"),
    ("gmail-web", "fr", ["Le lun. 16 nov. 2026 à 09:00, Jean Dupont <jean@societe.fr> a écrit :"], "gt"),
    ("outlook-desktop", "fr", ["De : Jean Dupont <jean@societe.fr>", "Envoyé : lundi 16 novembre 2026 09:00",
                               "À : support@example.fr", "Objet : RE: Imprimante"], "plain"),
    ("hotmail", "fr", ["De : Jean Dupont <jean@hotmail.fr>", "Envoyé le : lundi 16 novembre 2026 09:00",
                       "À : support@example.fr", "Objet : Imprimante"], "plain"),
    ("gmail-web", "es", ["El lun, 16 nov 2026 a las 9:00, Juan García (<juan@empresa.es>) escribió:"], "gt"),
    ("outlook-desktop", "es", ["De: Juan García <juan@empresa.es>", "Enviado: lunes, 16 de noviembre de 2026 9:00",
                               "Para: soporte@example.es", "Asunto: RE: Impresora"], "plain"),
    ("gmail-web", "it", ["Il giorno lun 16 nov 2026 alle ore 09:00 Mario Rossi <mario@azienda.it> ha scritto:"], "gt"),
    ("gmail-split", "it", ["Il giovedì 16 novembre 2026, Mario Rossi <mario@azienda.it>", "ha scritto:"], "gt"),
    ("outlook-desktop", "it", ["Da: Mario Rossi <mario@azienda.it>", "Inviato: lunedì 16 novembre 2026 09:00",
                               "A: supporto@example.it", "Oggetto: R: Stampante"], "plain"),
    ("gmail-web", "pt", ["Em seg., 16 de nov. de 2026 às 09:00, João Silva <joao@empresa.pt> escreveu:"], "gt"),
    ("outlook-desktop", "pt", ["De: João Silva <joao@empresa.pt>", "Enviado: segunda-feira, 16 de novembro de 2026 09:00",
                               "Para: suporte@example.pt", "Assunto: RE: Impressora"], "plain"),
    ("gmail-web", "nl", ["Op ma 16 nov. 2026 om 09:00 schreef Jan de Vries <jan@bedrijf.nl>:"], "gt"),
    ("thunderbird", "nl", ["Op 16-11-2026 om 09:00 schreef Jan de Vries:"], "gt"),
    ("outlook-desktop", "nl", ["Van: Jan de Vries <jan@bedrijf.nl>", "Verzonden: maandag 16 november 2026 09:00",
                               "Aan: support@example.nl", "Onderwerp: RE: Printer"], "plain"),
    ("gmail-web", "pl", ["pon., 16 lis 2026 o 09:00 Jan Kowalski <jan@firma.pl> napisał(a):"], "gt"),
    ("thunderbird", "pl", ["W dniu 16.11.2026 o 09:00, Jan Kowalski pisze:"], "gt"),
    ("outlook-desktop", "pl", ["Od: Jan Kowalski <jan@firma.pl>", "Wysłano: poniedziałek, 16 listopada 2026 09:00",
                               "Do: pomoc@example.pl", "Temat: RE: Drukarka"], "plain"),
    ("gmail-web", "da", ["Den man. 16. nov. 2026 kl. 09.00 skrev Lars Hansen <lars@firma.dk>:"], "gt"),
    ("outlook-desktop", "da", ["Fra: Lars Hansen <lars@firma.dk>", "Sendt: 16. november 2026 09:00",
                               "Til: support@example.dk", "Emne: SV: Printer"], "plain"),
    ("original-message", "da", ["-----Oprindelig meddelelse-----", "Fra: Lars Hansen <lars@firma.dk>",
                                "Sendt: 16. november 2026 09:00", "Til: support@example.dk", "Emne: Printer"], "plain"),
    ("gmail-web", "sv", ["Den mån 16 nov. 2026 kl 09:00 skrev Anna Svensson <anna@foretag.se>:"], "gt"),
    ("outlook-desktop", "sv", ["Från: Anna Svensson <anna@foretag.se>", "Skickat: den 16 november 2026 09:00",
                               "Till: support@example.se", "Ämne: SV: Skrivare"], "plain"),
    ("gmail-web", "no", ["man. 16. nov. 2026 kl. 09:00 skrev Ola Nordmann <ola@firma.no>:"], "gt"),
    ("outlook-desktop", "no", ["Fra: Ola Nordmann <ola@firma.no>", "Sendt: mandag 16. november 2026 09:00",
                               "Til: support@example.no", "Emne: SV: Skriver"], "plain"),
    ("gmail-web", "fi", ["ma 16. marrask. 2026 klo 9.00 Matti Virtanen <matti@yritys.fi> kirjoitti:"], "gt"),
    ("outlook-desktop", "fi", ["Lähettäjä: Matti Virtanen <matti@yritys.fi>", "Lähetetty: maanantai 16. marraskuuta 2026 9.00",
                               "Vastaanottaja: tuki@example.fi", "Aihe: VS: Tulostin"], "plain"),
    ("gmail-web", "ru", ["пн, 16 нояб. 2026 г. в 09:00, Иван Петров <ivan@firma.ru>:"], "gt"),
    ("thunderbird", "ru", ["16.11.2026 9:00, Иван Петров пишет:"], "gt"),
    ("yandex", "ru", ["16.11.2026, 09:00, \"Иван Петров\" <ivan@yandex.ru>:"], "gt"),
    ("outlook-desktop", "ru", ["От: Иван Петров <ivan@firma.ru>", "Отправлено: 16 ноября 2026 г. 9:00",
                               "Кому: support@example.ru", "Тема: RE: Принтер"], "plain"),
    ("gmail-web", "hu", ["Kovács Péter <peter@ceg.hu> ezt írta (időpont: 2026. nov. 16., H 9:00):"], "gt"),
    ("outlook-desktop", "hu", ["Feladó: Kovács Péter <peter@ceg.hu>", "Elküldve: 2026. november 16. 9:00",
                               "Címzett: support@example.hu", "Tárgy: RE: Nyomtató"], "plain"),
    ("gmail-web", "ja", ["2026年11月16日(月) 9:00 山田太郎 <taro@kaisha.jp>:"], "gt"),
    ("outlook-desktop", "ja", ["差出人: 山田太郎 <taro@kaisha.jp>", "送信日時: 2026年11月16日 9:00",
                               "宛先: support@example.jp", "件名: RE: プリンター"], "plain"),
    ("gmail-web", "zh", ["张伟 <wei@gongsi.cn> 于2026年11月16日周一 上午9:00写道："], "gt"),
    ("outlook-desktop", "zh", ["发件人: 张伟 <wei@gongsi.cn>", "发送时间: 2026年11月16日 9:00",
                               "收件人: support@example.cn", "主题: 回复: 打印机"], "plain"),
]

SIGNATURE = "\n\n-- \nJana Nováková\nExample Support, +420 123 456 789"

# Cases of their own: (name, language, text as sent, expected). Structure the header table cannot express.
SPECIAL = [
    ("same-line-header", "en",
     "Thanks, that fixed it. On Mon, Nov 16, 2026 at 9:00 AM John Smith <john@acme.com> wrote:\n> Please restart.\n",
     "Thanks, that fixed it."),
    ("list-footer", "en",
     "It works now, thanks.\n\nOn Mon, Nov 16, 2026 at 9:00 AM John Smith <john@acme.com> wrote:\n> Try the new driver.\n"
     "> It is on the website.\n>\n_______________________________________________\nusers mailing list\n"
     "users@lists.example.org\nhttps://lists.example.org/listinfo/users\n",
     "It works now, thanks."),
    ("nested-quotes", "en",
     ">On Mon, Nov 16, 2026 at 9:00 AM John Smith <john@acme.com> wrote:\n>> Does it print?\n> Not yet.\n\n"
     "It prints now.\n",
     "It prints now."),
    ("broken-url", "en",
     "Done, see the link.\n\nOn Mon, Nov 16, 2026 at 9:00 AM John Smith <john@acme.com> wrote:\n"
     "> The manual is at https://example.com/support/manuals/printer/\nmodel-42.pdf\n> Page 7.\n",
     "Done, see the link."),
    ("text-below-quote", "en",
     "On Mon, Nov 16, 2026 at 9:00 AM John Smith <john@acme.com> wrote:\n> Is it fixed?\n\nYes, it is.\n\n"
     "Regards, Roman\n",
     "Yes, it is.\n\nRegards, Roman"),
    ("greeting-above-answer-below", "cs",
     "Dobrý den,\n\nDne 16. 11. 2026 v 9:00 Jan Novák napsal(a):\n> Už to funguje?\n\nAno, funguje.\n\n"
     "S pozdravem\nJana\n",
     "Dobrý den,\n\nAno, funguje.\n\nS pozdravem\nJana"),
    ("forward-included", "en",
     "Please look at the customer's mail below.\n\n---------- Forwarded message ---------\n"
     "From: Alice <alice@acme.com>\nDate: Mon, Nov 16, 2026 at 9:00 AM\nSubject: Printer\nTo: John <john@acme.com>\n\n"
     "The printer is broken.\n",
     "Please look at the customer's mail below.\n\n---------- Forwarded message ---------\n"
     "From: Alice <alice@acme.com>\nDate: Mon, Nov 16, 2026 at 9:00 AM\nSubject: Printer\nTo: John <john@acme.com>\n\n"
     "The printer is broken."),
    ("forward-cs", "cs",
     "Posílám dál, viz níže.\n\n---------- Přeposlaná zpráva ----------\nOd: Alice <alice@acme.cz>\n"
     "Datum: 16. 11. 2026 9:00\nPředmět: Tiskárna\n\nTiskárna nejde.\n",
     "Posílám dál, viz níže.\n\n---------- Přeposlaná zpráva ----------\nOd: Alice <alice@acme.cz>\n"
     "Datum: 16. 11. 2026 9:00\nPředmět: Tiskárna\n\nTiskárna nejde."),
    ("inline-answers", "en",
     "Hi,\n\nOn Mon, Nov 16, 2026 at 9:00 AM John Smith <john@acme.com> wrote:\n> Does it print?\nNo, it does not.\n"
     "> And scan?\nYes.\n",
     "Hi,\n\nOn Mon, Nov 16, 2026 at 9:00 AM John Smith <john@acme.com> wrote:\n> Does it print?\nNo, it does not.\n"
     "> And scan?\nYes."),
    ("inline-answers-cs", "cs",
     "Dne 16. 11. 2026 v 9:00 Jan Novák napsal(a):\n> Tiskne to?\nNe.\n> A skenuje?\nAno.\n",
     "Dne 16. 11. 2026 v 9:00 Jan Novák napsal(a):\n> Tiskne to?\nNe.\n> A skenuje?\nAno."),
    ("sent-from-iphone", "en",
     "Fixed.\n\nSent from my iPhone\n\nOn Nov 16, 2026, at 09:00, John Smith <john@acme.com> wrote:\n\n> Any news?\n",
     "Fixed."),
    ("odeslano-z-iphonu", "cs",
     "Opraveno.\n\nOdesláno z iPhonu\n\n16. 11. 2026 v 9:00, Jan Novák <jan@acme.cz>:\n\n> Nějaké novinky?\n",
     "Opraveno."),
    ("words-like-dekuji", "cs",
     "Děkuji, že jste napsali.\nProblém je v ovladači.\n\nDne 16. 11. 2026 v 9:00 Jan Novák napsal(a):\n> Nejde to.\n",
     "Děkuji, že jste napsali.\nProblém je v ovladači."),
    ("colon-in-answer", "cs",
     "Postup je tento:\n1. restartujte službu,\n2. vytiskněte fakturu znovu.\n\n"
     "Dne 16. 11. 2026 v 9:00 Jan Novák napsal(a):\n> Jak to opravit?\n",
     "Postup je tento:\n1. restartujte službu,\n2. vytiskněte fakturu znovu."),
    ("verb-before-date", "fi",
     "Tämä on jatkoa edelliselle pyynnölle.\n\nAsiakaspalvelu kirjoitti 20.05.2026 kello 10:26:\n\n"
     "> Hyvä asiakkaamme,\n> tilauksesi on noudettavissa.\n",
     "Tämä on jatkoa edelliselle pyynnölle."),
    ("lahetetty-iphonesta", "fi",
     "Kiitos ja pahoittelut sekoilusta.\n\nMinna\n\nLähetetty iPhonesta\n\n"
     "> Asiakaspalvelu <asiakaspalvelu@example.fi> kirjoitti 23.8.2026 kello 11.10:\n> Hei Minna,\n",
     "Kiitos ja pahoittelut sekoilusta.\n\nMinna"),
    ("outlook-android-footer", "cs",
     "Dobrý den,\n\nkdy budete mít stojan skladem?\n\nDíky\nPetr\n\nStáhněte si Outlook pro Android<https://aka.ms/x>\n",
     "Dobrý den,\n\nkdy budete mít stojan skladem?\n\nDíky\nPetr"),
    # Sentences that look a little like quote headers must never cut the writer's own words.
    ("sentence-sent-with-time", "en",
     "I sent 2 mails yesterday and got this error:\nE-42: printer offline\n\nPlease help.\n",
     "I sent 2 mails yesterday and got this error:\nE-42: printer offline\n\nPlease help."),
    ("sentence-wrote-with-time", "en",
     "My colleague wrote at 10:30 today:\nthe invoice does not open\n\nThanks\n",
     "My colleague wrote at 10:30 today:\nthe invoice does not open\n\nThanks"),
    ("sentence-napsal", "cs",
     "Kolega mi dnes v 10:30 napsal:\nfaktura nejde otevřít.\n\nDíky\n",
     "Kolega mi dnes v 10:30 napsal:\nfaktura nejde otevřít.\n\nDíky"),
    ("sentence-from-colon", "sk",
     "Od: pondelka to nefunguje.\nKomu mám napísať?\n\nVďaka\n",
     "Od: pondelka to nefunguje.\nKomu mám napísať?\n\nVďaka"),
    ("only-quotes", "en", "> quoted only\n> nothing new\n", "> quoted only\n> nothing new"),
    ("no-history", "sk", "Ďakujem, funguje to.\n\nJán\n", "Ďakujem, funguje to.\n\nJán"),
]

# HTML-only replies (name, language, html, expected text).
HTML = [
    ("gmail-html", "en", '<div dir="ltr">Fixed, please try again.</div><br><div class="gmail_quote">'
     '<div dir="ltr" class="gmail_attr">On Mon, Nov 16, 2026 at 9:00 AM John Smith &lt;<a href="mailto:john@acme.com">'
     'john@acme.com</a>&gt; wrote:<br></div><blockquote class="gmail_quote" style="margin:0px">Is it fixed?</blockquote>'
     '</div>', "Fixed, please try again."),
    ("gmail-html", "cs", '<div dir="ltr">Opraveno, zkuste to prosím znovu.</div><br><div class="gmail_quote">'
     '<div dir="ltr" class="gmail_attr">po 16. 11. 2026 v 9:00 odesílatel Jan Novák &lt;<a href="mailto:jan@acme.cz">'
     'jan@acme.cz</a>&gt; napsal:<br></div><blockquote class="gmail_quote">Už je to opravené?</blockquote></div>',
     "Opraveno, zkuste to prosím znovu."),
    ("outlook-html", "cs", '<div>Opraveno, zkuste to prosím znovu.</div><div><br></div><hr style="display:inline-block">'
     '<div id="divRplyFwdMsg" dir="ltr"><b>Od:</b> Jan Novák &lt;jan@acme.cz&gt;<br><b>Odesláno:</b> pondělí 16. '
     'listopadu 2026 9:00<br><b>Komu:</b> podpora@example.cz<br><b>Předmět:</b> Tiskárna</div><div>Už je to '
     'opravené?</div>', "Opraveno, zkuste to prosím znovu."),
    ("outlook-html", "sk", '<div>Opravené, skúste to prosím znova.</div><hr><div id="divRplyFwdMsg"><b>Od:</b> Ján '
     'Novák &lt;jan@acme.sk&gt;<br><b>Odoslané:</b> pondelok 16. novembra 2026 9:00<br><b>Komu:</b> '
     'podpora@example.sk<br><b>Predmet:</b> Tlačiareň</div><div>Už je to opravené?</div>',
     "Opravené, skúste to prosím znova."),
    ("outlook-html", "en", '<div>Fixed, please try again.</div><div id="appendonsend"></div><hr><div id="divRplyFwdMsg">'
     '<b>From:</b> John Smith &lt;john@acme.com&gt;<br><b>Sent:</b> Monday, November 16, 2026 9:00 AM<br><b>To:</b> '
     'support@example.com<br><b>Subject:</b> Printer</div><div>Is it fixed?</div>', "Fixed, please try again."),
    ("apple-mail-html", "en", '<div>Fixed, please try again.</div><div><br><blockquote type="cite"><div>On Nov 16, '
     '2026, at 09:00, John Smith &lt;john@acme.com&gt; wrote:</div><br><div>Is it fixed?</div></blockquote></div>',
     "Fixed, please try again."),
    ("thunderbird-html", "cs", '<p>Opraveno, zkuste to prosím znovu.</p><div class="moz-cite-prefix">Dne 16. 11. 2026 '
     'v 9:00 Jan Novák napsal(a):<br></div><blockquote type="cite">Už je to opravené?</blockquote>',
     "Opraveno, zkuste to prosím znovu."),
    ("seznam-html", "cs", '<div>Opraveno, zkuste to prosím znovu.</div><div><br></div><div class="quote">'
     '---------- Původní e-mail ----------<br>Od: Jan Novák &lt;jan@seznam.cz&gt;<br>Komu: podpora@example.cz<br>'
     'Datum: 16. 11. 2026 9:00:00<br>Předmět: Tiskárna<br><blockquote>Už je to opravené?</blockquote></div>',
     "Opraveno, zkuste to prosím znovu."),
    ("roundcube-html", "sk", '<p>Opravené, skúste to prosím znova.</p><p>Dňa 16.11.2026 09:00 Ján Novák napísal:</p>'
     '<blockquote type="cite" style="padding:0 0.4em">Už je to opravené?</blockquote>',
     "Opravené, skúste to prosím znova."),
    ("zimbra-html", "cs", '<div>Opraveno, zkuste to prosím znovu.</div><hr id="zwchr"><div><b>Od: </b>"Jan Novák" '
     '&lt;jan@acme.cz&gt;<br><b>Komu: </b>podpora@example.cz<br><b>Odesláno: </b>Pondělí, 16. listopad 2026 9:00:00'
     '<br><b>Předmět: </b>Tiskárna<br></div><div>Už je to opravené?</div>', "Opraveno, zkuste to prosím znovu."),
    # The structure decides where the words do not: an attribution in a language we have no pattern for,
    # a quote with no attribution at all, and the webmail quote containers.
    ("gmail-html-unknown-language", "en", '<div dir="ltr">Fixed, please try again.</div><div class="gmail_quote">'
     '<div class="gmail_attr">16 Kas 2026 Pzt, 09:00 tarihinde John Smith yazdı:</div><blockquote class="gmail_quote">'
     'Is it fixed?</blockquote></div>', "Fixed, please try again."),
    ("apple-mail-html-no-attribution", "cs", '<div>Opraveno, zkuste to prosím znovu.</div><blockquote type="cite">'
     '<div>Už je to opravené?</div><div>Jan</div></blockquote>', "Opraveno, zkuste to prosím znovu."),
    ("yahoo-html", "en", '<div>Fixed, please try again.</div><div class="yahoo_quoted"><div>On Monday, November 16, '
     '2026, 09:00:00 AM GMT+1, John Smith &lt;john@acme.com&gt; wrote:</div><div>Is it fixed?</div></div>',
     "Fixed, please try again."),
    ("protonmail-html", "cs", '<div>Opraveno, zkuste to prosím znovu.</div><div class="protonmail_quote">'
     '------- Original Message -------<br>Už je to opravené?</div>', "Opraveno, zkuste to prosím znovu."),
    ("outlook-web-html-appendonsend", "sk", '<div>Opravené, skúste to prosím znova.</div><div id="appendonsend"></div>'
     '<div><b>Od:</b> Ján<br><b>Odoslané:</b> 16. 11. 2026<br><b>Predmet:</b> Tlačiareň</div><div>Už?</div>',
     "Opravené, skúste to prosím znova."),
    ("html-text-below-quote", "cs", '<div>Dobrý den,</div><blockquote type="cite">Už je to opravené?</blockquote>'
     '<div>Ano, od rána to funguje.</div><div>Jana</div>', "Dobrý den,\n\nAno, od rána to funguje.\nJana"),
    ("html-inline-answers", "en", '<div>Answers below.</div><blockquote type="cite">Does it print?</blockquote>'
     '<div>No.</div><blockquote type="cite">And scan?</blockquote><div>Yes.</div>',
     "Answers below.\nDoes it print?\nNo.\nAnd scan?\nYes."),
]


def cases() -> list[tuple[str, str, str, str]]:
    """Every case as (name, kind, body, expected); kind is 'text' or 'html'."""
    out = []
    for client, lang, header, style in HEADERS:
        answer = ANSWERS[lang]
        quoted = [f"> {q}".rstrip() if style == "gt" else q for q in QUOTED]
        history = "\n".join(header + ([""] if style == "plain" else []) + quoted)
        out.append((f"{lang}-{client}-top", "text", f"{answer}\n\n{history}\n", answer))
        out.append((f"{lang}-{client}-top-signature", "text", f"{answer}{SIGNATURE}\n\n{history}\n", answer))
        if style == "gt":
            out.append((f"{lang}-{client}-bottom", "text", f"{history}\n\n{answer}\n", answer))
    out += [(f"{lang}-{name}", "text", body, expected) for name, lang, body, expected in SPECIAL]
    out += [(f"{lang}-{name}", "html", body, expected) for name, lang, body, expected in HTML]
    return out
