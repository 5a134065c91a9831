"""Newsletter pages and campaigns built for the campaign tests: a bilingual site with stories,
a Newsletters folder per locale, and a newsletter translated into French."""

from __future__ import annotations

from dataclasses import dataclass

from wagtail.models import Collection, Locale, Page

from content.services import locales_ensure, page_translate
from newsletters.models import NewsletterIndexPage, NewsletterPage
from tests.content.helpers import DemoSite, build_site


@dataclass
class NewsletterSite:
    site: DemoSite
    index: NewsletterIndexPage
    page: NewsletterPage

    @property
    def fr_page(self) -> NewsletterPage:
        return self.page.get_translation(self.site.fr)


def newsletter_site(*, stories: int = 2, translate: bool = True) -> NewsletterSite:
    # A transactional test elsewhere in the run flushes what migrations created: put it back.
    if Collection.get_first_root_node() is None:
        Collection.add_root(name="Root")
    if Page.get_first_root_node() is None:
        locales_ensure()
        Page.add_root(instance=Page(title="Root", slug="root", locale=Locale.get_default()))
    site = build_site()
    site.add_stories(stories)
    root = Page.get_first_root_node()
    index = NewsletterIndexPage(title="Newsletters", slug="newsletters", locale=site.en)
    root.add_child(instance=index)
    index.save_revision().publish()
    page = NewsletterPage(
        title="December news",
        slug="december",
        subject="Snow is here",
        preheader="Our winter picks",
        body=[
            {
                "type": "intro",
                "value": {"heading": "Winter is here", "text": "The lifts open.", "greet": True},
            },
            {"type": "story_teaser", "value": {"story": site.stories[0].pk, "button_label": ""}},
            {
                "type": "button",
                "value": {"label": "Plan your stay", "url": "https://plan.example/"},
            },
        ],
    )
    index.add_child(instance=page)
    page.save_revision().publish()
    if translate:
        page_translate(page=index, locale=site.fr, strings={"Newsletters": "Lettres"})
        page_translate(
            page=page,
            locale=site.fr,
            strings={
                "December news": "Nouvelles de décembre",
                "Snow is here": "La neige est là",
                "Winter is here": "L'hiver est là",
                "The lifts open.": "Les remontées ouvrent.",
                "Plan your stay": "Préparez votre séjour",
            },
        )
    page.refresh_from_db()
    return NewsletterSite(site=site, index=index, page=page)
