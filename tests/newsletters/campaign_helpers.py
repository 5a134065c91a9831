"""Newsletter pages and campaigns built for the campaign tests: a bilingual site with stories,
a Newsletters folder per locale, and a newsletter translated into French."""

from __future__ import annotations

from dataclasses import dataclass

from wagtail.models import Page

from content.services import page_translate
from newsletters.models import NewsletterIndexPage, NewsletterPage
from tests.content.helpers import DemoSite, build_site, publish, wagtail_roots_ensure


@dataclass
class NewsletterSite:
    site: DemoSite
    index: NewsletterIndexPage
    page: NewsletterPage

    @property
    def fr_page(self) -> NewsletterPage:
        return self.page.get_translation(self.site.fr)


def newsletter_site(*, stories: int = 2, translate: bool = True) -> NewsletterSite:
    wagtail_roots_ensure()
    site = build_site()
    site.add_stories(stories)
    index = publish(
        Page.get_first_root_node(),
        NewsletterIndexPage(title="Newsletters", slug="newsletters", locale=site.en),
    )
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
    publish(index, page)
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
