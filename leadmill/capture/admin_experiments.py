"""Back-office screens of A/B tests (ADR 40): the listing and editor (a snippet in the
Capture menu: the page, the variants and their split, when to call a winner), and the
results screen, where the marketer starts the test, reads the figures and promotes the
winner in one click."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView, View
from wagtail import hooks
from wagtail.admin.panels import FieldPanel, FieldRowPanel, InlinePanel, MultiFieldPanel, ObjectList
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.widgets import Button, ListingButton
from wagtail.snippets.views import snippets as snippet_views
from wagtail.snippets.views.snippets import SnippetViewSet

from leadmill.core.admin_viewsets import TitledAdminViewMixin, snippet_breadcrumbs
from leadmill.core.errors import DomainError

from .experiments import experiment_promote, experiment_results, experiment_start, experiment_stop
from .models import Experiment, Variant

RESULTS_URL_NAME = "capture_experiment_results"
PREVIEW_URL_NAME = "capture_experiment_variant_preview"


def results_url(experiment: Experiment) -> str:
    return reverse(RESULTS_URL_NAME, args=[experiment.pk])


class ExperimentIndexView(snippet_views.IndexView):
    def get_base_queryset(self):
        return super().get_base_queryset().select_related("page")

    def get_list_more_buttons(self, instance):
        return [
            ListingButton(_("Results"), url=results_url(instance), icon_name="table", priority=5),
            *super().get_list_more_buttons(instance),
        ]


class ExperimentEditView(snippet_views.EditView):
    @cached_property
    def header_more_buttons(self):
        return [
            *super().header_more_buttons,
            Button(_("Results"), url=results_url(self.object), icon_name="table", priority=5),
        ]

    def get_success_url(self):
        return results_url(self.object)


class ExperimentCreateView(snippet_views.CreateView):
    def get_success_url(self):
        return results_url(self.object)


class ExperimentViewSet(SnippetViewSet):
    """A/B tests of landing pages: variants, split, results, promote the winner."""

    model = Experiment
    icon = "resubmit"
    menu_label = _("A/B tests")
    copy_view_enabled = False
    index_view_class = ExperimentIndexView
    edit_view_class = ExperimentEditView
    add_view_class = ExperimentCreateView
    list_display = [
        "name",
        Column("page", label=_("Landing page")),
        "status",
        DateColumn("started_at", label=_("Started"), sort_key="started_at"),
        DateColumn("ended_at", label=_("Ended"), sort_key="ended_at"),
    ]
    list_filter = ["status"]
    search_fields = ["name"]
    edit_handler = ObjectList(
        [
            FieldRowPanel([FieldPanel("name"), FieldPanel("page")]),
            MultiFieldPanel(
                [
                    FieldRowPanel(
                        [
                            FieldPanel("min_days"),
                            FieldPanel("min_exposures"),
                            FieldPanel("risk_threshold_percent"),
                        ]
                    )
                ],
                heading=_("When to call a winner"),
            ),
            InlinePanel("variants", heading=_("Variants"), label=_("Variant"), min_num=2),
        ]
    )


class ExperimentResultsView(TitledAdminViewMixin, WagtailAdminTemplateMixin, TemplateView):
    """The figures of one test and its actions: start, stop, promote a variant."""

    template_name = "capture/admin/experiment_results.html"
    header_icon = "resubmit"

    def parent_breadcrumbs(self):
        return snippet_breadcrumbs(self.experiment)

    def dispatch(self, request, pk):
        if not _may_view(request.user):
            raise PermissionDenied
        self.experiment = get_object_or_404(
            Experiment.objects.select_related("page", "winner"), pk=pk
        )
        return super().dispatch(request, pk)

    def get_page_title(self):
        return _g("A/B test “%(name)s”") % {"name": self.experiment.name}

    def get_context_data(self, **kwargs):
        results = experiment_results(experiment=self.experiment)
        return super().get_context_data(
            experiment=self.experiment,
            results=results,
            can_change=self.request.user.has_perm("capture.change_experiment"),
            edit_url=reverse(
                Experiment.snippet_viewset.get_url_name("edit"), args=[self.experiment.pk]
            ),
            **kwargs,
        )

    def post(self, request, pk):
        if not request.user.has_perm("capture.change_experiment"):
            raise PermissionDenied
        action = request.POST.get("action", "")
        try:
            if action == "start":
                experiment_start(experiment=self.experiment)
                messages.success(request, _g("The test is running: visitors now see its variants."))
            elif action == "stop":
                experiment_stop(experiment=self.experiment)
                messages.success(request, _g("The test has ended; the page shows its own content."))
            elif action == "promote":
                variant_id = request.POST.get("variant", "")
                experiment = experiment_promote(
                    experiment=self.experiment,
                    variant_id=int(variant_id) if variant_id.isdigit() else 0,
                    user=request.user,
                )
                messages.success(
                    request,
                    _g("“%(label)s” is now the page, published; the test has ended.")
                    % {"label": experiment.winner.label},
                )
            else:
                messages.error(request, _g("Unknown action."))
        except DomainError as error:
            messages.error(request, error.message)
        return redirect(results_url(self.experiment))


def _may_view(user) -> bool:
    return user.has_perm("capture.view_experiment") or user.has_perm("capture.change_experiment")


class VariantPreviewView(View):
    """The landing page as one variant shows it, for the marketer to check before starting
    the test (a draft test too): Wagtail's preview of the page with the variant's content,
    recording no exposure and changing no visitor's assignment."""

    def get(self, request, pk, variant_pk):
        if not _may_view(request.user):
            raise PermissionDenied
        variant = get_object_or_404(
            Variant.objects.select_related("experiment__page"), pk=variant_pk, experiment_id=pk
        )
        page = variant.experiment.page.specific
        return page.make_preview_request(
            request, page.default_preview_mode, extra_request_attrs={"lm_variant": variant}
        )


@hooks.register("register_admin_urls")
def register_experiment_urls():
    return [
        path(
            "capture/ab-tests/<int:pk>/results/",
            ExperimentResultsView.as_view(),
            name=RESULTS_URL_NAME,
        ),
        path(
            "capture/ab-tests/<int:pk>/variants/<int:variant_pk>/preview/",
            VariantPreviewView.as_view(),
            name=PREVIEW_URL_NAME,
        ),
    ]
