//! The HTTP layer alone: `actix_web::test` services over the real routes, a real engine on
//! the in-memory store (no database), the sim as the only venue, fake users.

mod orders;
