//! Integration tests of the model crate: order-book properties against a reference model.

mod book_props;
