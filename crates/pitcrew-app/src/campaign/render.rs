//! Rendering a template for one person: MJML to HTML, personalisation in a sandbox, links rewritten for tracking and tagged.
