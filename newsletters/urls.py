from django.urls import include, path

from newsletters import preference_views, survey_views, views

app_name = "newsletters"

urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("preferences/<str:token>/", preference_views.preferences, name="preferences"),
    path("survey/<str:token>/", survey_views.survey, name="survey"),
    # The providers' tracking webhooks: /newsletters/anymail/<esp>/tracking/ (newsletters.bounces).
    path("anymail/", include("anymail.urls")),
]
