"""The community's URLs. paperpost.urls includes them before the paper page's catch-all
pattern (paper/<path:identifier>/), so that /paper/<id>/upvote/ reaches the vote view."""

from django.urls import path

from . import api
from .views import account, papers, submit, trending

urlpatterns = [
    path("login/", account.login_form, name="login"),
    path("login/<str:token>/", account.login_link, name="login_link"),
    path("logout/", account.logout_view, name="logout"),
    path("me/", account.me, name="me"),
    path("me/export/", account.export, name="me_export"),
    path("me/delete/", account.delete, name="me_delete"),
    path("paper/<path:identifier>/upvote/", papers.upvote, name="upvote"),
    path("paper/<path:identifier>/unvote/", papers.unvote, name="unvote"),
    path("paper/<path:identifier>/comments/", papers.comment_post, name="comment_post"),
    path("comments/<int:pk>/edit/", papers.comment_edit, name="comment_edit"),
    path("comments/<int:pk>/delete/", papers.comment_delete, name="comment_delete"),
    path("comments/<int:pk>/report/", papers.comment_report, name="comment_report"),
    path("vote/<str:token>/<int:paper_id>/", papers.email_vote, name="email_vote"),
    path("submit/", submit.submit, name="submit"),
    path("trending/", trending.trending, name="trending"),
    path("api/papers/", api.papers, name="api_papers"),
    path("api/papers/<path:identifier>/", api.paper, name="api_paper"),
]
