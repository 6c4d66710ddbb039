"""Word lists for pseudonymization: Spanish places, common given names, and name parts that are
also ordinary words. Hand-written: no maintained package ships Spanish provinces or the
name-versus-word ambiguity, and geonames' city list collides with too many common words."""

from __future__ import annotations


def _words(block: str) -> frozenset[str]:
    return frozenset(block.split())


# Autonomous communities, the 50 provinces and their capitals, larger cities and towns, islands,
# and a few well-known neighbourhoods (Spanish, Catalan, Basque and Galician forms), plus the
# largest Latin American cities the corpus' writers come from.
PLACES: frozenset[str] = frozenset(
    """
    Andalucía; Aragón; Asturias; Principado de Asturias; Baleares; Illes Balears; Islas Baleares;
    Canarias; Islas Canarias; Cantabria; Castilla y León; Castilla-La Mancha; Castilla La Mancha;
    Cataluña; Catalunya; Comunidad Valenciana; Comunitat Valenciana; Extremadura; Galicia;
    Comunidad de Madrid; Región de Murcia; Murcia; Navarra; Nafarroa; País Vasco; Euskadi;
    La Rioja; Ceuta; Melilla;
    Álava; Araba; Vitoria; Vitoria-Gasteiz; Gasteiz; Albacete; Alicante; Alacant; Almería; Ávila;
    Badajoz; Barcelona; Burgos; Cáceres; Cádiz; Castellón; Castelló; Castellón de la Plana;
    Ciudad Real; Córdoba; Cuenca; Girona; Gerona; Granada; Guadalajara; Gipuzkoa; Guipúzcoa;
    Donostia; San Sebastián; Huelva; Huesca; Jaén; A Coruña; La Coruña; Coruña; Las Palmas;
    Las Palmas de Gran Canaria; León; Lleida; Lérida; Lugo; Madrid; Málaga; Ourense; Orense;
    Oviedo; Palencia; Palma; Palma de Mallorca; Pamplona; Iruña; Pontevedra; Salamanca;
    Santa Cruz de Tenerife; Segovia; Sevilla; Soria; Tarragona; Teruel; Toledo; Valencia;
    València; Valladolid; Bizkaia; Vizcaya; Bilbao; Zamora; Zaragoza; Logroño; Santander;
    Mérida; Santiago de Compostela;
    Vigo; Gijón; Xixón; Avilés; Ferrol; Ponferrada; Elche; Elx; Cartagena; Lorca; Jerez;
    Jerez de la Frontera; Algeciras; Marbella; Estepona; Fuengirola; Torremolinos; Benalmádena;
    Ronda; Antequera; Motril; Linares; Úbeda; Dos Hermanas; Utrera; Écija; El Puerto de Santa María;
    San Fernando; Chiclana; Sanlúcar; Almuñécar; Roquetas de Mar; El Ejido; Benidorm; Torrevieja;
    Orihuela; Alcoy; Alcoi; Elda; Gandía; Gandia; Sagunto; Sagunt; Torrent; Paterna; Burjassot;
    Badalona; Sabadell; Terrassa; Mataró; L'Hospitalet; Hospitalet; L'Hospitalet de Llobregat;
    Cornellà; Sant Cugat; Castelldefels; Granollers; Manresa; Vic; Reus; Tortosa; Figueres;
    Blanes; Lloret de Mar; Sitges; Vilanova i la Geltrú; Rubí; Mollet; Igualada;
    Móstoles; Fuenlabrada; Leganés; Getafe; Alcorcón; Alcalá de Henares; Alcalá; Torrejón;
    Torrejón de Ardoz; Parla; Alcobendas; Pozuelo; Las Rozas; Majadahonda; Coslada; Rivas;
    Rivas-Vaciamadrid; Aranjuez; Arganda; Collado Villalba; San Sebastián de los Reyes;
    Talavera; Talavera de la Reina; Puertollano; Tomelloso; Ciudad Rodrigo; Béjar; Plasencia;
    Miranda de Ebro; Aranda de Duero; Ponferrada; Astorga; Medina del Campo; Benavente;
    Irún; Irun; Eibar; Getxo; Barakaldo; Baracaldo; Portugalete; Durango; Tudela; Estella;
    Torrelavega; Castro Urdiales; Mieres; Langreo; Calatayud; Jaca; Barbastro; Monzón;
    Ibiza; Eivissa; Mallorca; Menorca; Formentera; Tenerife; Gran Canaria; Lanzarote;
    Fuerteventura; La Palma; La Gomera; El Hierro; Maó; Mahón; Manacor; Inca; Arrecife;
    La Laguna; San Cristóbal de La Laguna; Telde; Arona; Adeje; Puerto de la Cruz;
    Lavapiés; Vallecas; Carabanchel; Usera; Chamberí; Malasaña; Chueca; Moratalaz; Hortaleza;
    Tetuán; Latina; Arganzuela; Retiro; Salamanca; Gràcia; Eixample; Sants; Raval; El Raval;
    Poblenou; Sant Andreu; Nou Barris; Horta; Sarrià; Triana; Nervión; Macarena; Russafa; Ruzafa;
    Benimaclet; Deusto; Abando; Indautxu; Gros; Amara;
    Ciudad de México; CDMX; Guadalajara; Monterrey; Puebla; Bogotá; Medellín; Cali;
    Barranquilla; Cartagena de Indias; Buenos Aires; Rosario; Córdoba; Mendoza; Montevideo;
    Santiago de Chile; Valparaíso; Lima; Arequipa; Quito; Guayaquil; Caracas; La Habana;
    Santo Domingo; San Juan; La Paz; Asunción; San José; Panamá
    """.replace("\n", " ").split(";")
) - {""}

# Place names that are also ordinary words: replaced only when written with a capital letter.
AMBIGUOUS_PLACES: frozenset[str] = frozenset(
    {
        "granada",
        "cuenca",
        "leon",
        "palma",
        "la palma",
        "ronda",
        "jerez",
        "la rioja",
        "vic",
        "parla",
        "retiro",
        "latina",
        "horta",
        "gros",
        "inca",
        "rosario",
        "san juan",
        "san jose",
        "la paz",
        "asuncion",
        "santo domingo",
        "san fernando",
        "sants",
        "rubi",
        "macarena",
        "panama",
        "lima",
        "raval",
        "gracia",
        "san cristobal de la laguna",
        "la laguna",
    }
)

# Common given names (frequent in Spain's register and in Catalan, Basque, Galician and Latin
# American use). They catch third parties the platform does not know ("mi ex, Daniel"); only a
# capitalized word counts, so "sol" the sun stays while "Sol" the friend is replaced.
GIVEN_NAMES: frozenset[str] = _words(
    """
    Adrián Agustín Aitana Aitor Alba Alberto Alejandra Alejandro Alex Álex Alfonso Alfredo Alicia
    Alma Álvaro Amparo Ana Andrea Andrés Ángel Ángela Ángeles Antonia Antonio Ariadna Arnau
    Asier Aurora Beatriz Begoña Belén Berta Blanca Bruno Camila Candela Carla Carlos Carlota
    Carmen Carolina Catalina Cecilia Celia César Clara Claudia Concepción Consuelo Cristian
    Cristina Daniel Daniela David Diana Diego Dolores Eduardo Elena Eloy Elisa Emilio Emma
    Encarna Encarnación Enrique Eric Ernesto Esperanza Esteban Esther Eugenia Eva Fátima
    Federico Felipe Fernando Francisca Francisco Gabriel Gabriela Gema Gemma Gerard Gloria
    Gonzalo Guillermo Gustavo Héctor Helena Hugo Ignacio Igor Iker Inés Inmaculada Irene Iris
    Isaac Isabel Iván Jaime Javier Jesús Joan Joaquín Joel Jon Jordi Jorge José Josefa Josep
    Juan Juana Julia Julián Julio Laia Laura Leire Leonor Lidia Lola Lorena Lorenzo Lourdes
    Lucas Lucía Luis Luisa Lupe Maite Manuel Manuela Marc Marcos Margarita María Mariano Marina
    Mario Marisa Marta Martín Martina Mateo Matías Mercedes Miguel Milagros Miriam Mónica
    Montse Montserrat Nacho Natalia Nerea Nicolás Noelia Nora Nuria Núria Óscar Pablo Paco Pau
    Paula Pedro Pepa Pepe Pilar Rafael Ramón Raquel Raúl Rebeca Ricardo Roberto Rocío Rodrigo
    Rosa Rosario Rubén Salvador Samuel Sandra Santiago Sara Sergio Silvia Sofía Sonia Soledad
    Susana Teresa Tomás Valeria Verónica Vicente Víctor Victoria Xavier Xavi Ximena Yolanda
    Zoe Ainhoa Unai Mikel Iñaki Itziar Amaia Xoán Uxía Brais Iria
    """
)

# Parts of a person's name that are also ordinary words (Spanish, Catalan, English), folded:
# such a part alone is replaced only when capitalized. A full or two-part name always is.
COMMON_WORDS: frozenset[str] = _words(
    """
    rosa luz pilar paz sol mar blanca dolores rocio consuelo esperanza amparo soledad remedios
    mercedes victoria alegria gloria flor estrella nieves reyes cruz angeles angel socorro
    rosario cielo alba aurora iris oliva paloma marina sierra serena reina jesus milagros pura
    inmaculada concepcion asuncion encarnacion natividad salvador clemente modesto severo justo
    benigno celeste amor fe marcos leal feliz pena
    leon moreno blanco rubio calvo delgado bueno bravo campos castillo iglesias torres prieto
    santos cano lobo conde duque rey caballero herrero pastor guerra serrano mesa salas vega rios
    montes nieto hidalgo soto marin franco romero pino mora gallego toro cordero gallo carrasco
    cabello castellano vasco navarro rico cortes puerto rivera sala vidal prat riera roca
    neus pau roc
    will mark grace hope faith joy may rose april june summer dawn bill frank rich sue pat jack
    art ray guy amber ruby jade page miles hunter young white black brown green king bell cook
    wood hill rice long price cole lane ward wells
    """
)

# Name particles: never a name by themselves.
PARTICLES: frozenset[str] = frozenset(
    {"de", "del", "la", "las", "los", "el", "y", "i", "da", "das", "do", "dos", "van", "von", "di"}
)
