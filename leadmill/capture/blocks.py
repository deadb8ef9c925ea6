"""StreamField blocks of landing pages. Marketers assemble a page from these."""

from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.images.blocks import ImageChooserBlock
from wagtail.snippets.blocks import SnippetChooserBlock


class HeroBlock(blocks.StructBlock):
    heading = blocks.CharBlock(label=_("Heading"), max_length=120)
    subheading = blocks.TextBlock(label=_("Subheading"), required=False)
    image = ImageChooserBlock(label=_("Image"), required=False)

    class Meta:
        template = "capture/blocks/hero.html"
        icon = "title"
        label = _("Hero")


class OfferBlock(blocks.StructBlock):
    offer = SnippetChooserBlock("capture.Offer", label=_("Offer"))
    heading = blocks.CharBlock(label=_("Heading"), required=False)
    description = blocks.RichTextBlock(label=_("Description"), required=False)

    class Meta:
        template = "capture/blocks/offer.html"
        icon = "pick"
        label = _("Offer")


class FormBlock(blocks.StaticBlock):
    """Where the page's conversion form appears (the form itself is set on the page)."""

    class Meta:
        template = "capture/blocks/form.html"
        icon = "form"
        label = _("Conversion form")
        admin_text = _("The page's form is shown here.")


class CallToActionBlock(blocks.StructBlock):
    cta = SnippetChooserBlock("capture.CallToAction", label=_("Call to action"))
    text = blocks.CharBlock(label=_("Button text"), required=False)

    class Meta:
        template = "capture/blocks/cta.html"
        icon = "link"
        label = _("Call to action")


class BenefitsBlock(blocks.StructBlock):
    heading = blocks.CharBlock(label=_("Heading"), required=False)
    items = blocks.ListBlock(blocks.CharBlock(label=_("Benefit")), label=_("Benefits"))

    class Meta:
        template = "capture/blocks/benefits.html"
        icon = "list-ul"
        label = _("Benefits")


class TestimonialBlock(blocks.StructBlock):
    quote = blocks.TextBlock(label=_("Quote"))
    author = blocks.CharBlock(label=_("Author"))
    role = blocks.CharBlock(label=_("Role and company"), required=False)

    class Meta:
        template = "capture/blocks/testimonial.html"
        icon = "openquote"
        label = _("Testimonial")


class ImageBlock(blocks.StructBlock):
    image = ImageChooserBlock(label=_("Image"))
    alt = blocks.CharBlock(label=_("Alternative text"), required=False)

    class Meta:
        template = "capture/blocks/image.html"
        icon = "image"
        label = _("Image")


class LandingBodyBlock(blocks.StreamBlock):
    hero = HeroBlock()
    offer = OfferBlock()
    form = FormBlock()
    cta = CallToActionBlock()
    benefits = BenefitsBlock()
    testimonial = TestimonialBlock()
    text = blocks.RichTextBlock(label=_("Rich text"), template="capture/blocks/text.html")
    image = ImageBlock()
