"""Public URLs of the content app that are not Wagtail pages (mounted under the language prefix)."""

from django.urls import path

from content import views

app_name = "content"

urlpatterns = [
    path("newsletter/", views.newsletter_signup, name="newsletter_signup"),
    path("newsletter/thanks/", views.newsletter_signup_done, name="newsletter_signup_done"),
    path("newsletter/confirm/<str:token>/", views.newsletter_confirm, name="newsletter_confirm"),
]
